//! Flow control, actions, collections and the seed's rules.

use super::*;

#[test]
fn deny_status_phase_and_message() {
    let e = engine(
        "SecRule ARGS:id \"@rx ^[0-9]+$\" \"id:1,phase:1,pass,log,msg:'numeric %{MATCHED_VAR}'\"\n\
         SecRule ARGS \"@contains evil\" \"id:2,phase:2,deny,status:418,msg:'evil in %{MATCHED_VAR_NAME}'\"\n",
    );
    let tx = run(&e, &get("/a?id=42&x=evil"));
    let i = tx.intervention().unwrap();
    assert_eq!((i.status, i.rule_id, i.phase), (418, Some(2), 2));
    assert_eq!(i.msg.as_deref(), Some("evil in ARGS:x"));
    assert_eq!(ids(&tx), vec![1, 2]);
    assert_eq!(tx.matches()[0].msg.as_deref(), Some("numeric 42"));
    assert_eq!(tx.matches()[1].variables, vec!["ARGS:x".to_string()]);
    assert_eq!(status(&run(&e, &get("/a?id=42&x=good"))), None);
}

#[test]
fn chains_need_every_link_and_see_matched_vars() {
    let e = engine(
        "SecRule REQUEST_METHOD \"@streq POST\" \"id:1,phase:2,deny,chain\"\n\
         SecRule ARGS_NAMES \"@rx (?i)^admin\" \"chain\"\n\
         SecRule MATCHED_VARS \"@rx ^admin_x$\" \"t:lowercase\"\n",
    );
    let mut r = get("/?ADMIN_X=1");
    assert_eq!(status(&run(&e, &r)), None, "GET does not start the chain");
    r.method = "POST";
    assert_eq!(status(&run(&e, &r)), Some(403));
    r.uri = "/?admin_y=1";
    assert_eq!(status(&run(&e, &r)), None, "the last link fails");
}

#[test]
fn setvar_macros_and_anomaly_scoring() {
    let e = engine(
        "SecAction \"id:1,phase:1,pass,nolog,setvar:tx.threshold=5,setvar:tx.score=0\"\n\
         SecRule ARGS \"@rx select\" \"id:2,phase:2,pass,log,setvar:tx.score=+%{tx.threshold}\"\n\
         SecRule ARGS \"@rx union\" \"id:3,phase:2,pass,log,setvar:tx.score=+3,setvar:!tx.threshold\"\n\
         SecRule TX:SCORE \"@ge 8\" \"id:4,phase:2,deny,msg:'score %{tx.score}'\"\n",
    );
    let tx = run(&e, &get("/?q=union+select"));
    assert_eq!(tx.tx("score"), Some(&b"8"[..]));
    assert_eq!(tx.tx("threshold"), None, "deleted by `!`");
    assert_eq!(tx.intervention().unwrap().msg.as_deref(), Some("score 8"));
    let tx = run(&e, &get("/?q=select"));
    assert_eq!((status(&tx), tx.tx("score")), (None, Some(&b"5"[..])));
}

#[test]
fn skip_and_skip_after_jump_within_the_phase() {
    let e = engine(
        "SecRule ARGS:a \"@streq 1\" \"id:1,phase:2,pass,nolog,skip:1\"\n\
         SecRule ARGS \"@rx .\" \"id:2,phase:2,deny,status:401\"\n\
         SecRule ARGS:b \"@streq 1\" \"id:3,phase:2,pass,nolog,skipAfter:END\"\n\
         SecRule ARGS \"@rx .\" \"id:4,phase:2,deny,status:402\"\n\
         SecMarker END\n\
         SecRule ARGS:c \"@streq 1\" \"id:5,phase:2,deny,status:403\"\n",
    );
    assert_eq!(status(&run(&e, &get("/?x=1"))), Some(401));
    assert_eq!(status(&run(&e, &get("/?a=1"))), Some(402), "skip:1 skips 2");
    assert_eq!(status(&run(&e, &get("/?a=1&b=1"))), None);
    assert_eq!(status(&run(&e, &get("/?a=1&b=1&c=1"))), Some(403));
}

#[test]
fn capture_fills_tx_for_the_next_link() {
    let e = engine(
        "SecRule ARGS:v \"@rx ^(\\w+)-(\\d+)$\" \"id:1,phase:2,deny,capture,chain,msg:'%{TX.1}'\"\n\
         SecRule TX:2 \"@gt 100\" \"\"\n",
    );
    let tx = run(&e, &get("/?v=abc-500"));
    assert_eq!(tx.intervention().unwrap().msg.as_deref(), Some("abc"));
    assert_eq!(tx.tx("0"), Some(&b"abc-500"[..]));
    assert_eq!(status(&run(&e, &get("/?v=abc-5"))), None);
}

#[test]
fn a_capture_clears_the_opening_rules_captures_it_does_not_replace() {
    // The opening rules read no request data: they run once, and every
    // transaction starts from their TX, captures included.
    let e = engine(
        "SecAction \"id:1,phase:1,pass,nolog,setvar:tx.seed=ab\"\n\
         SecRule TX:seed \"@rx ^(a)(b)$\" \"id:2,phase:1,pass,nolog,capture\"\n\
         SecRule ARGS:q \"@rx ^(z)$\" \"id:3,phase:1,pass,nolog,capture\"\n\
         SecRule TX:2 \"@streq b\" \"id:4,phase:1,deny,status:409\"\n",
    );
    let tx = run(&e, &get("/?q=x"));
    assert_eq!(
        tx.tx("2"),
        Some(&b"b"[..]),
        "no capture: the opening one stays"
    );
    assert_eq!(status(&tx), Some(409));
    let tx = run(&e, &get("/?q=z"));
    assert_eq!((tx.tx("0"), tx.tx("1")), (Some(&b"z"[..]), Some(&b"z"[..])));
    assert_eq!(
        tx.tx("2"),
        None,
        "a capture with fewer groups removes the rest"
    );
    assert_eq!(status(&tx), None);
}

#[test]
fn transformations_and_multi_match() {
    let e = engine(
        "SecRule ARGS \"@streq <script>\" \"id:1,phase:2,deny,t:urlDecode,t:lowercase\"\n\
         SecRule ARGS:m \"@streq ab\" \"id:2,phase:2,deny,status:409,t:removeWhitespace,t:lowercase,multiMatch\"\n",
    );
    assert_eq!(status(&run(&e, &get("/?q=%253CSCRIPT%253E"))), Some(403));
    // multiMatch: the value before transformation counts too.
    assert_eq!(status(&run(&e, &get("/?m=ab"))), Some(409));
    assert_eq!(status(&run(&e, &get("/?m=A+B"))), Some(409));
    assert_eq!(status(&run(&e, &get("/?m=xy"))), None);
}

#[test]
fn selectors_counts_exclusions_and_missing_values() {
    let e = engine(
        "SecRule &ARGS \"@gt 2\" \"id:1,phase:2,deny,status:401\"\n\
         SecRule ARGS:/^pass/|!ARGS:passport \"@rx x\" \"id:2,phase:2,deny,status:402\"\n\
         SecRule REQUEST_HEADERS:X-Missing \"!@rx .\" \"id:3,phase:1,deny,status:403\"\n\
         SecRule &REQUEST_HEADERS:X-Missing \"@eq 0\" \"id:4,phase:1,pass,log\"\n",
    );
    assert_eq!(status(&run(&e, &get("/?a=1&b=2&c=3"))), Some(401));
    assert_eq!(status(&run(&e, &get("/?password=x"))), Some(402));
    assert_eq!(status(&run(&e, &get("/?passport=x"))), None, "excluded");
    let tx = run(&e, &get("/"));
    assert_eq!(status(&tx), None, "a negated operator needs a value");
    assert_eq!(ids(&tx), vec![4]);
}

#[test]
fn ctl_removes_rules_and_targets_and_changes_the_engine() {
    let e = engine(
        "SecRule REQUEST_FILENAME \"@beginsWith /upload\" \"id:1,phase:1,pass,nolog,ctl:ruleRemoveById=10,ctl:ruleRemoveTargetById=11;ARGS:note\"\n\
         SecRule REQUEST_FILENAME \"@beginsWith /report\" \"id:2,phase:1,pass,nolog,ctl:ruleEngine=DetectionOnly\"\n\
         SecRule REQUEST_FILENAME \"@beginsWith /tagged\" \"id:3,phase:1,pass,nolog,ctl:ruleRemoveByTag=attack-.*\"\n\
         SecRule REQUEST_FILENAME \"@beginsWith /quiet\" \"id:4,phase:1,pass,nolog,ctl:ruleRemoveTargetByTag=^other$;ARGS:note\"\n\
         SecRule ARGS \"@contains bad\" \"id:10,phase:2,deny,status:410\"\n\
         SecRule ARGS \"@contains evil\" \"id:11,phase:2,deny,status:411,tag:attack-x\"\n\
         SecRule ARGS \"@contains vile\" \"id:12,phase:2,deny,status:412,tag:x,tag:other\"\n",
    );
    assert_eq!(status(&run(&e, &get("/quiet?note=vile"))), None, "by tag");
    assert_eq!(status(&run(&e, &get("/quiet?a=vile"))), Some(412));
    assert_eq!(
        status(&run(&e, &get("/quiet?note=evil"))),
        Some(411),
        "^other$ only"
    );
    assert_eq!(status(&run(&e, &get("/x?note=vile"))), Some(412));
    assert_eq!(status(&run(&e, &get("/x?a=bad"))), Some(410));
    assert_eq!(status(&run(&e, &get("/upload?a=bad"))), None);
    assert_eq!(status(&run(&e, &get("/upload?note=evil"))), None);
    assert_eq!(status(&run(&e, &get("/upload?other=evil"))), Some(411));
    let tx = run(&e, &get("/report?a=bad"));
    assert_eq!(status(&tx), None, "detection only");
    assert_eq!(tx.mode(), EngineMode::DetectionOnly);
    assert_eq!(ids(&tx), vec![10], "still matched and logged");
    assert_eq!(status(&run(&e, &get("/tagged?a=evil"))), None);
}

#[test]
fn allow_pass_redirect_and_block_follow_the_defaults() {
    let e = engine(
        "SecDefaultAction \"phase:2,log,deny,status:406\"\n\
         SecRule REMOTE_ADDR \"@ipMatch 192.168.0.0/16\" \"id:1,phase:1,allow,nolog\"\n\
         SecRule ARGS:go \"@streq away\" \"id:2,phase:2,redirect:'https://example.com/%{ARGS.go}'\"\n\
         SecRule ARGS \"@contains bad\" \"id:3,phase:2,block\"\n",
    );
    let mut r = get("/?x=bad");
    assert_eq!(
        status(&run(&e, &r)),
        Some(406),
        "block is the default's deny"
    );
    r.addr = "192.168.1.7";
    assert_eq!(status(&run(&e, &r)), None, "allowed clients skip the rest");
    let tx = run(&e, &get("/?go=away"));
    let i = tx.intervention().unwrap();
    assert_eq!(i.status, 302);
    assert_eq!(
        i.action,
        Action::Redirect("https://example.com/away".into())
    );
}

#[test]
fn json_and_form_bodies_reach_args() {
    let e = engine(
        "SecRule ARGS:json.user.name \"@streq root\" \"id:1,phase:2,deny,status:401\"\n\
         SecRule ARGS_POST:comment \"@contains <script\" \"id:2,phase:2,deny,status:402\"\n\
         SecRule REQBODY_ERROR \"!@eq 0\" \"id:3,phase:2,deny,status:400\"\n",
    );
    let mut r = get("/");
    r.method = "POST";
    r.headers.push(("Content-Type", "application/json"));
    r.body = Some(r#"{"user":{"name":"root"}}"#);
    assert_eq!(status(&run(&e, &r)), Some(401));
    r.body = Some(r#"{"user":"#);
    assert_eq!(status(&run(&e, &r)), Some(400), "a broken body is an error");
    r.headers.pop();
    r.headers
        .push(("Content-Type", "application/x-www-form-urlencoded"));
    r.body = Some("comment=%3Cscript%3E");
    assert_eq!(status(&run(&e, &r)), Some(402));
}

/// The seed's three rules, as pasted, plus the failed-login counter.
const SEED: &str = r#"
SecRule REQUEST_URI "@rx (?i:(?:union[\s]+select|select[\s]+from))" \
    "id:1000,deny,status:403,msg:'SQL Injection blocked'"
SecRule ARGS "@rx <script[^>]*>" \
    "id:1001,deny,status:403,msg:'XSS blocked'"
SecRule IP:LOGIN_ATTEMPT "@gt 5" \
    "id:1002,deny,status:429,msg:'Brute force blocked'"
SecRule RESPONSE_STATUS "@streq 401" "id:1003,phase:3,pass,nolog,setvar:ip.login_attempt=+1,expirevar:ip.login_attempt=600"
"#;

#[test]
fn seed_rules_block_sqli_xss_and_brute_force_per_address() {
    let store = Arc::new(MemoryStore::new(3600, 100));
    let e = engine_with(SEED, store.clone());
    assert_eq!(
        status(&run(&e, &get("/p?q=1%20UNION%20%20SELECT%20x"))),
        Some(403)
    );
    assert_eq!(
        status(&run(&e, &get("/p?c=%3Cscript%20src=x%3E"))),
        Some(403)
    );
    assert_eq!(status(&run(&e, &get("/p?q=select"))), None);
    let attempt = |addr: &str, code: u16| {
        let mut r = get("/login");
        r.addr = addr;
        let mut tx = run(&e, &r);
        let blocked = status(&tx);
        if blocked.is_none() {
            tx.response_headers(code, "HTTP/1.1", &[]);
        }
        blocked
    };
    for _ in 0..6 {
        assert_eq!(attempt("10.0.0.9", 401), None);
    }
    assert_eq!(attempt("10.0.0.9", 200), Some(429), "a 7th attempt");
    assert_eq!(attempt("10.0.0.8", 200), None, "another address");
    // Another engine sharing the store (another route or node) agrees.
    let other = engine_with(SEED, store);
    let mut r = get("/elsewhere");
    r.addr = "10.0.0.9";
    assert_eq!(status(&run(&other, &r)), Some(429));
}
