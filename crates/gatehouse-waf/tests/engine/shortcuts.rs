//! Rules decided ahead, passed over or remembered across requests: each
//! behaves as if evaluated as written.

use super::*;

/// The leading rules that read only TX run once per engine; every request
/// must still get what running them itself would give.
#[test]
fn request_free_opening_rules_behave_as_if_run_per_request() {
    // A prefix that sets TX, a request-free rule that logs when it matches
    // (so it runs per request), a rule reading the request after it.
    let e = engine(
        "SecAction \"id:1,phase:1,pass,nolog,setvar:tx.a=5,setvar:tx.score=0\"\n\
         SecRule TX:a \"@eq 6\" \"id:2,phase:1,deny,status:500\"\n\
         SecRule TX:a \"@eq 5\" \"id:3,phase:1,pass,log,msg:'a is %{tx.a}'\"\n\
         SecRule REQUEST_METHOD \"@streq POST\" \"id:4,phase:1,deny,setvar:tx.score=+1\"\n",
    );
    for _ in 0..2 {
        let tx = run(&e, &get("/"));
        assert_eq!(ids(&tx), vec![3], "the logging rule matches per request");
        assert_eq!(tx.matches()[0].msg.as_deref(), Some("a is 5"));
        assert_eq!(tx.tx("a"), Some(&b"5"[..]));
        assert_eq!(status(&tx), None);
        let mut post = get("/");
        post.method = "POST";
        let tx = run(&e, &post);
        assert_eq!(status(&tx), Some(403));
        assert_eq!(tx.tx("score"), Some(&b"1"[..]));
    }
    // A request-free rule that denies denies every request.
    let e = engine(
        "SecRule &TX:setup \"@eq 0\" \"id:10,phase:1,deny,status:500\"\n\
         SecAction \"id:11,phase:1,pass,nolog,setvar:tx.b=1\"\n",
    );
    for _ in 0..2 {
        let tx = run(&e, &get("/"));
        assert_eq!(status(&tx), Some(500));
        assert_eq!(tx.tx("b"), None, "nothing after the deny ran");
    }
    // A rule reading the request but touching no TX runs in its place
    // (here: before the prefix's jump); the jump still applies.
    let e = engine(
        "SecRule REQUEST_HEADERS:Content-Type \"@contains json\" \"id:20,phase:1,pass,nolog,ctl:requestBodyProcessor=JSON\"\n\
         SecAction \"id:21,phase:1,pass,nolog,setvar:tx.b=1\"\n\
         SecRule TX:b \"@eq 1\" \"id:22,phase:1,pass,nolog,skipAfter:END\"\n\
         SecRule REQUEST_URI \"@contains x\" \"id:23,phase:1,deny\"\n\
         SecMarker END\n\
         SecRule ARGS:json.a \"@streq 1\" \"id:24,phase:2,deny,status:418\"\n",
    );
    for _ in 0..2 {
        let mut r = get("/x");
        r.method = "POST";
        r.headers.push(("Content-Type", "text/x-json"));
        r.body = Some("{\"a\":\"1\"}");
        let tx = run(&e, &r);
        assert_eq!(
            status(&tx),
            Some(418),
            "JSON parsed by rule 20's ctl; 23 skipped"
        );
    }
}

#[test]
fn rules_decided_by_settled_tx_behave_as_if_evaluated() {
    // Rule 2 reads a TX entry only the opening rules write: the same
    // outcome every request (the CRS's paranoia gates).
    let gate = "SecAction \"id:1,phase:1,pass,nolog,setvar:tx.level=1\"\n\
         SecRule TX:level \"@lt 2\" \"id:2,phase:2,pass,nolog,skipAfter:END\"\n\
         SecRule TX:level \"@eq 7\" \"id:3,phase:2,deny,status:500\"\n\
         SecRule ARGS \"@contains evil\" \"id:4,phase:2,deny\"\n\
         SecMarker END\n\
         SecRule ARGS \"@contains bad\" \"id:5,phase:2,deny,status:418\"\n";
    let e = engine(gate);
    for _ in 0..2 {
        assert_eq!(status(&run(&e, &get("/?q=evil"))), None, "4 skipped");
        assert_eq!(status(&run(&e, &get("/?q=bad"))), Some(418));
    }
    // A later rule may change it per request: evaluated each time.
    let e = engine(&format!(
        "{gate}SecRule ARGS:lvl \"@streq 3\" \"id:6,phase:1,pass,nolog,setvar:tx.level=3\"\n"
    ));
    for _ in 0..2 {
        assert_eq!(status(&run(&e, &get("/?q=evil"))), None);
        assert_eq!(status(&run(&e, &get("/?lvl=3&q=evil"))), Some(403));
    }
    // So may a rule naming it through a macro, and one setting it to 7.
    let e = engine(&format!(
        "{gate}SecRule ARGS:name \"@rx ^(\\w+)$\" \"id:7,phase:1,pass,nolog,capture,setvar:tx.%{{tx.1}}=7\"\n"
    ));
    for _ in 0..2 {
        assert_eq!(status(&run(&e, &get("/?name=other"))), None);
        assert_eq!(status(&run(&e, &get("/?name=level"))), Some(500));
    }
    // A request that removes the gate's target gets the rule evaluated.
    let e = engine(&format!(
        "{gate}SecRule REQUEST_URI \"@beginsWith /x\" \"id:8,phase:1,pass,nolog,ctl:ruleRemoveTargetById=2;TX:level\"\n"
    ));
    for _ in 0..2 {
        assert_eq!(status(&run(&e, &get("/y?q=evil"))), None);
        assert_eq!(status(&run(&e, &get("/x?q=evil"))), Some(403));
    }
    // Removing another target (as the CRS's 941010 does on most requests)
    // leaves the gate as it was.
    let e = engine(&format!(
        "{gate}SecRule REQUEST_URI \"@beginsWith /z\" \"id:9,phase:1,pass,nolog,ctl:ruleRemoveTargetById=5;ARGS:x\"\n"
    ));
    for _ in 0..2 {
        assert_eq!(status(&run(&e, &get("/z?q=evil"))), None);
        assert_eq!(status(&run(&e, &get("/z?q=bad"))), Some(418));
        assert_eq!(status(&run(&e, &get("/z?x=bad"))), None);
    }
}

#[test]
fn runs_of_rules_settled_never_to_match_are_passed_over_whole() {
    // Rules 10-12 read only what the opening rules wrote, and never match;
    // the walk passes over them together, from their start or from a
    // marker inside them, and goes on at the next rule.
    let e = engine(
        "SecAction \"id:1,phase:1,pass,nolog,setvar:tx.level=1\"\n\
         SecRule ARGS:jump \"@streq 1\" \"id:2,phase:2,pass,nolog,skipAfter:MID\"\n\
         SecRule TX:level \"@eq 7\" \"id:10,phase:2,deny,status:501\"\n\
         SecRule TX:level \"@eq 8\" \"id:11,phase:2,deny,status:502\"\n\
         SecMarker MID\n\
         SecRule TX:level \"@eq 9\" \"id:12,phase:2,deny,status:503\"\n\
         SecRule ARGS \"@contains bad\" \"id:13,phase:2,deny,status:418\"\n\
         SecRule TX:level \"@eq 7\" \"id:14,phase:2,deny,status:504\"\n\
         SecRule ARGS \"@contains worse\" \"id:15,phase:2,deny,status:419\"\n\
         SecRule TX:level \"@eq 1\" \"id:16,phase:2,pass,log\"\n",
    );
    for _ in 0..2 {
        assert_eq!(status(&run(&e, &get("/?q=bad"))), Some(418));
        assert_eq!(status(&run(&e, &get("/?q=worse"))), Some(419));
        assert_eq!(status(&run(&e, &get("/?jump=1&q=bad"))), Some(418));
        let tx = run(&e, &get("/?q=fine"));
        assert_eq!((status(&tx), ids(&tx)), (None, vec![16]));
    }
}

#[test]
fn negated_rules_over_values_the_request_lacks_do_not_match() {
    // A header the client did not send gives the link no value: negated
    // or not, it matches nothing, while a sent one is tested as written.
    let e = engine(
        "SecRule REQUEST_HEADERS:X-Len \"!@rx ^\\d+$\" \"id:1,phase:1,deny,status:401\"\n\
         SecRule ARGS:missing|REQUEST_HEADERS:X-Other \"!@streq x\" \"id:2,phase:2,deny,status:402\"\n\
         SecRule &REQUEST_HEADERS:X-Len \"@eq 0\" \"id:3,phase:2,pass,nolog,setvar:tx.no_len=1\"\n",
    );
    let with = |uri, headers: &[(&'static str, &'static str)]| {
        let mut r = get(uri);
        r.headers.extend_from_slice(headers);
        run(&e, &r)
    };
    for _ in 0..2 {
        let tx = with("/", &[]);
        assert_eq!(status(&tx), None);
        assert_eq!(tx.tx("no_len"), Some(&b"1"[..]), "a count has a value");
        assert_eq!(status(&with("/", &[("X-Len", "abc")])), Some(401));
        assert_eq!(status(&with("/", &[("X-Len", "12")])), None);
        assert_eq!(status(&with("/", &[("X-Other", "y")])), Some(402));
        assert_eq!(status(&with("/?missing=y", &[])), Some(402));
        assert_eq!(status(&with("/?missing=x", &[("X-Other", "x")])), None);
    }
}

#[test]
fn a_chain_is_passed_over_by_a_later_link_only_when_those_before_act_on_nothing() {
    // The CRS's 920250: a TX gate without actions, then a link over the
    // arguments that benign values refute. With an action on the gate,
    // the gate runs on every request, whatever the link after it does.
    for (gate, seen) in [("", None), (",setvar:tx.seen=+1", Some(&b"1"[..]))] {
        let e = engine(&format!(
            "SecAction \"id:1,phase:1,pass,nolog,setvar:tx.on=1\"\n\
             SecRule TX:on \"@eq 1\" \"id:2,phase:2,deny,status:418,chain{gate}\"\n\
                 SecRule ARGS \"@contains evil\" \"t:lowercase\"\n"
        ));
        for _ in 0..3 {
            let tx = run(&e, &get("/?q=fine&r=good"));
            assert_eq!(status(&tx), None, "{gate}");
            assert_eq!(tx.tx("seen"), seen, "{gate}");
            assert_eq!(
                status(&run(&e, &get("/?q=fine&r=EVIL"))),
                Some(418),
                "{gate}"
            );
        }
    }
}

#[test]
fn settled_rules_with_tx_actions_add_what_the_request_scored() {
    // The CRS's score sums: gates that match on every request, whose
    // actions read what this request scored.
    let rules = "SecAction \"id:1,phase:1,pass,nolog,setvar:tx.level=1,setvar:tx.part=0\"\n\
         SecRule ARGS \"@contains evil\" \"id:2,phase:1,pass,nolog,setvar:tx.part=+5\"\n\
         SecRule TX:level \"@ge 1\" \"id:3,phase:2,pass,nolog,setvar:tx.sum=+%{tx.part},setvar:tx.seen=%{TX.Part}\"\n\
         SecRule TX:level \"@ge 1\" \"id:4,phase:2,pass,nolog,chain\"\n\
             SecRule TX:level \"@eq 1\" \"setvar:tx.sum=+1\"\n\
         SecRule TX:sum \"@ge 6\" \"id:5,phase:2,deny,status:418\"\n";
    let e = engine(rules);
    for _ in 0..2 {
        let tx = run(&e, &get("/?q=evil"));
        assert_eq!(tx.tx("sum"), Some(&b"6"[..]));
        assert_eq!(tx.tx("seen"), Some(&b"5"[..]));
        assert_eq!(status(&tx), Some(418));
        let tx = run(&e, &get("/?q=fine"));
        assert_eq!(tx.tx("sum"), Some(&b"1"[..]));
        assert_eq!(tx.tx("seen"), Some(&b"0"[..]));
        assert_eq!(status(&tx), None);
    }
    // `SecAction`s after the request's rules that reset and add up what
    // it scored (the CRS's 949059 and 980099), in phases 2 and 5.
    let e = engine(&format!(
        "{}SecAction \"id:6,phase:2,pass,nolog,setvar:tx.total=9\"\n\
         SecAction \"id:7,phase:2,pass,nolog,setvar:tx.total=%{{tx.part}},setvar:tx.total=+%{{tx.sum}}\"\n\
         SecRule TX:total \"@ge 11\" \"id:8,phase:2,deny,status:419\"\n\
         SecAction \"id:9,phase:5,pass,nolog,setvar:tx.last=%{{tx.total}},setvar:tx.last=+1\"\n{}",
        rules.split("SecRule TX:sum").next().unwrap_or_default(),
        "SecRule TX:sum \"@ge 6\" \"id:5,phase:2,deny,status:418\"\n"
    ));
    for _ in 0..2 {
        let tx = run(&e, &get("/?q=evil"));
        assert_eq!(tx.tx("total"), Some(&b"11"[..]));
        assert_eq!(status(&tx), Some(419));
        let mut tx = run(&e, &get("/?q=fine"));
        assert_eq!(tx.tx("total"), Some(&b"1"[..]));
        assert_eq!(status(&tx), None);
        tx.logging();
        assert_eq!(tx.tx("last"), Some(&b"2"[..]));
    }
}

#[test]
fn names_made_by_macros_and_read_back_by_key_regex() {
    // The CRS's 920450 shape: each header name becomes a TX entry whose
    // name a macro makes, then a key regex reads them all back.
    let e = engine(
        "SecAction \"id:1,phase:1,pass,nolog,setvar:'tx.restricted=/proxy/ /x-evil/ 1',setvar:tx.other_hn_x=1\"\n\
         SecRule REQUEST_HEADERS_NAMES \"@rx ^.*$\" \"id:2,phase:1,deny,capture,t:none,t:lowercase,setvar:'tx.hn_%{tx.0}=/%{tx.0}/',msg:'restricted %{MATCHED_VAR}',chain\"\n\
         SecRule TX:/^HN_/ \"@within %{tx.restricted}\" \"\"\n",
    );
    let tx = run(&e, &get("/"));
    assert_eq!(status(&tx), None, "`other_hn_x` (1) is not selected");
    let mut r = get("/");
    r.headers.push(("X-Evil", "1"));
    let tx = run(&e, &r);
    assert_eq!(status(&tx), Some(403));
    assert_eq!(tx.tx("hn_user-agent"), Some(&b"/user-agent/"[..]));
    let i = tx.intervention().unwrap();
    assert_eq!(i.msg.as_deref(), Some("restricted /x-evil/"));
    // A key that is not ASCII may still match under Unicode case folding
    // (KELVIN SIGN is a `k`).
    let e = engine(
        "SecAction \"id:1,phase:1,pass,nolog,setvar:'tx.\u{212A}ey_a=x'\"\n\
         SecRule TX:/^key_/ \"@streq x\" \"id:2,phase:1,deny\"\n",
    );
    assert_eq!(status(&run(&e, &get("/"))), Some(403));
}

#[test]
fn key_regexes_select_tx_names_from_the_opening_rules_and_added_since() {
    // TX starts from what the opening rules left; a key regex then reads
    // those names and any the request added, removed or added again.
    let e = engine(
        "SecAction \"id:1,phase:1,pass,nolog,setvar:tx.pick_a=1,setvar:tx.pick_b=2,setvar:tx.other=3\"\n\
         SecRule ARGS:add \"@rx ^(\\w+)$\" \"id:2,phase:1,pass,nolog,capture,setvar:tx.pick_%{tx.1}=9\"\n\
         SecRule ARGS:drop \"@streq b\" \"id:3,phase:1,pass,nolog,setvar:!tx.pick_b\"\n\
         SecRule ARGS:again \"@streq b\" \"id:4,phase:1,pass,nolog,setvar:tx.pick_b=5\"\n\
         SecRule TX:/^PICK_/ \"@ge 0\" \"id:5,phase:2,pass,nolog,setvar:tx.sum=+%{MATCHED_VAR}\"\n\
         SecRule &TX:/^pick_/ \"@eq 3\" \"id:6,phase:2,pass,nolog,setvar:tx.three=1\"\n",
    );
    for _ in 0..2 {
        for (uri, sum, three) in [
            ("/", "3", None),
            ("/?add=c", "12", Some(&b"1"[..])),
            ("/?add=a", "11", None),
            ("/?drop=b", "1", None),
            ("/?drop=b&again=b", "6", None),
            ("/?drop=b&add=d", "10", None),
        ] {
            let tx = run(&e, &get(uri));
            assert_eq!(tx.tx("sum"), Some(sum.as_bytes()), "{uri}");
            assert_eq!(tx.tx("three"), three, "{uri}");
        }
    }
}

#[test]
fn rules_capturing_into_their_own_tx_names_behave_as_written() {
    // The 920450 shape is tested value by value when no other rule can see
    // its TX names but through a key regex; the same rules plus one that
    // reads all of TX (which rules the shortcut out) are the reference.
    let rules = "SecAction \"id:1,phase:1,pass,nolog,setvar:'tx.restricted=/proxy/ /x-evil/'\"\n\
         SecRule REQUEST_HEADERS_NAMES \"@rx ^(.*)$\" \"id:2,phase:1,pass,capture,t:none,t:lowercase,setvar:'tx.hn_%{tx.0}=/%{tx.0}/',msg:'restricted %{MATCHED_VAR}',chain\"\n\
         SecRule TX:/^HN_/ \"@within %{tx.restricted}\" \"setvar:tx.score=+5\"\n\
         SecRule TX:0 \"@rx .\" \"id:3,phase:1,pass,log,msg:'last capture %{tx.0} %{tx.1}'\"\n\
         SecRule TX:/content_types_/ \"@rx .\" \"id:4,phase:2,pass,log,msg:'seen %{MATCHED_VAR_NAME}'\"\n\
         SecRule TX:SCORE \"@ge 5\" \"id:5,phase:2,deny,status:429\"\n";
    let reference = format!("{rules}SecRule TX \"@streq never\" \"id:6,phase:5,pass,nolog\"\n");
    let (fast, slow) = (engine(rules), engine(&reference));
    let cases: [&[(&str, &str)]; 5] = [
        &[],
        &[("X-Evil", "1")],
        &[("Proxy", "a"), ("Accept", "*/*")],
        &[("X-Content_Types_A", "b")],
        &[("X-Evil", "1"), ("X-EVIL", "2")],
    ];
    let seen = |tx: &Transaction| {
        tx.matches()
            .iter()
            .map(|m| (m.rule_id, m.msg.clone()))
            .collect::<Vec<_>>()
    };
    for extra in cases {
        let mut r = get("/");
        r.headers.extend(extra.iter().copied());
        let (a, b) = (run(&fast, &r), run(&slow, &r));
        assert_eq!(seen(&a), seen(&b), "{extra:?}");
        assert_eq!(status(&a), status(&b), "{extra:?}");
        assert_eq!(a.tx("score"), b.tx("score"), "{extra:?}");
    }
    let benign = run(&fast, &get("/"));
    assert_eq!(
        seen(&benign),
        [(Some(3), Some("last capture user-agent user-agent".into()))],
        "the last header's captures are left"
    );
    assert_eq!(
        benign.tx("hn_host"),
        None,
        "the shortcut ran: nothing wrote it"
    );
    assert_eq!(run(&slow, &get("/")).tx("hn_host"), Some(&b"/host/"[..]));
    let mut r = get("/");
    r.headers.push(("Proxy", "x"));
    assert_eq!(status(&run(&fast, &r)), Some(429));
    // A name another rule's key regex selects is written, for it.
    let mut r = get("/");
    r.headers.push(("X-Content_Types_A", "b"));
    assert!(seen(&run(&fast, &r)).contains(&(Some(4), Some("seen TX:hn_x-content_types_a".into()))));
}

#[test]
fn what_header_names_gave_is_kept_with_the_argument_it_was_tested_against() {
    // The 920450 shape remembers per header name what the chain said; the
    // list the chain compares with may change from one request to the
    // next (here a header widens it), and then the same names must be
    // tested again.
    let rules = "SecAction \"id:1,phase:1,pass,nolog,setvar:'tx.restricted=/proxy/'\"\n\
         SecRule REQUEST_HEADERS:X-Mode \"@streq strict\" \"id:2,phase:1,pass,nolog,setvar:'tx.restricted=/proxy/ /accept/'\"\n\
         SecRule REQUEST_HEADERS_NAMES \"@rx ^.*$\" \"id:3,phase:1,deny,capture,t:none,t:lowercase,setvar:'tx.hn_%{tx.0}=/%{tx.0}/',chain\"\n\
         SecRule TX:/^HN_/ \"@within %{tx.restricted}\" \"\"\n";
    let e = engine(rules);
    let plain = || {
        let mut r = get("/");
        r.headers.push(("Accept", "*/*"));
        r
    };
    let strict = || {
        let mut r = plain();
        r.headers.push(("X-Mode", "strict"));
        r
    };
    for round in 0..3 {
        assert_eq!(status(&run(&e, &plain())), None, "round {round}");
        assert_eq!(status(&run(&e, &strict())), Some(403), "round {round}");
    }
    // A name first seen harmless is caught once the list names it.
    let e = engine(rules);
    let mut r = plain();
    r.headers.push(("Proxy", "x"));
    assert_eq!(status(&run(&e, &plain())), None);
    assert_eq!(status(&run(&e, &r)), Some(403));
}

#[test]
fn credentials_are_not_remembered() {
    // A value seen again is remembered by its content; an Authorization
    // header's never is, whichever rule reads it.
    let listed = "SecRule REQUEST_HEADERS \"@rx evil\" \"id:1,phase:1,deny\"\n";
    // With TX in its list, a link reads its values one by one; the value
    // it meets first must not be kept by the listed rule after it.
    let mixed = "SecRule REQUEST_HEADERS|TX:x \"@contains evil\" \"id:2,phase:1,deny\"\n\
                 SecRule REQUEST_HEADERS \"@rx evil\" \"id:1,phase:1,deny\"\n";
    let kept = |rules: &str, header: &'static str| {
        let e = engine(rules);
        let mut r = get("/");
        r.headers
            .push((header, "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"));
        for _ in 0..3 {
            assert_eq!(status(&run(&e, &r)), None);
        }
        r.headers.push(("X-Note", "evil"));
        assert_eq!(status(&run(&e, &r)), Some(403));
        e.recalled_values()
    };
    for rules in [listed, mixed] {
        let (token, authorization, proxy) = (
            kept(rules, "X-Token"),
            kept(rules, "Authorization"),
            kept(rules, "proxy-authorization"),
        );
        assert!(token > 0, "{rules}");
        assert_eq!((authorization + 1, proxy + 1), (token, token), "{rules}");
    }
}

/// A `multiMatch` rule matches a value through a form on the way however
/// often the value comes back: values recalled from earlier requests rule
/// such a rule out only by its own remembered misses, never because the
/// last form lacks its literal (rule 2 shares its transformations and
/// reads the same values, so their last forms' bits are worked out).
/// Header values, which stay where they are, are the ones remembered.
#[test]
fn multi_match_keeps_matching_recalled_values() {
    let e = engine(
        "SecRule REQUEST_HEADERS \"@rx a b\" \"id:1,phase:1,pass,log,t:none,t:removeWhitespace,multiMatch\"\n\
         SecRule REQUEST_HEADERS \"@rx zzz\" \"id:2,phase:1,deny,t:none,t:removeWhitespace\"\n\
         SecRule REQUEST_HEADERS \"@detectSQLi\" \"id:3,phase:1,deny,status:406,t:none,t:urlDecodeUni,multiMatch\"\n",
    );
    let with = |headers: &[(&'static str, &'static str)]| {
        let mut r = get("/");
        r.headers.extend_from_slice(headers);
        let tx = run(&e, &r);
        (ids(&tx), status(&tx))
    };
    for round in 0..4 {
        // "x y" matches neither rule 1 nor 3: from its second sighting on
        // it is remembered with both misses.
        assert_eq!(with(&[("X-B", "x y")]), (vec![], None), "round {round}");
        assert_eq!(with(&[("X-A", "a b")]), (vec![1], None), "round {round}");
        assert_eq!(
            with(&[("X-B", "x y"), ("X-A", "a b")]),
            (vec![1], None),
            "round {round}"
        );
        assert_eq!(
            with(&[("X-C", "1%27%20OR%20%271%27=%271")]),
            (vec![3], Some(406)),
            "round {round}"
        );
    }
    assert!(e.recalled_values() > 0);
}

/// A body too long to be remembered is scanned for the literals of the
/// links that read REQUEST_BODY only: those links still see every literal
/// it holds, and links over its arguments still see theirs (their values
/// are scanned in full), short bodies or long, repeated or not.
#[test]
fn long_bodies_are_scanned_for_their_own_links() {
    let e = engine(
        "SecRule REQUEST_BODY \"@rx java\\.lang\\.runtime\" \"id:1,phase:2,deny,status:403,t:lowercase\"\n\
         SecRule ARGS|REQUEST_BODY \"@rx evil_word\" \"id:2,phase:2,deny,status:409\"\n\
         SecRule ARGS \"@pm args_only_word\" \"id:3,phase:2,deny,status:410\"\n",
    );
    let post = |body: &str| {
        let mut r = get("/");
        r.method = "POST";
        r.headers
            .push(("Content-Type", "application/x-www-form-urlencoded"));
        r.body = Some(body);
        let tx = run(&e, &r);
        (ids(&tx), status(&tx))
    };
    for pad in [10, 3000] {
        let filler = format!("pad={}", "x".repeat(pad));
        for _ in 0..3 {
            let body = format!("{filler}&a=java.lang.Runtime");
            assert_eq!(post(&body), (vec![1], Some(403)), "pad {pad}");
            let body = format!("{filler}&a=1&b=evil_word");
            assert_eq!(post(&body), (vec![2], Some(409)), "pad {pad}");
            let body = format!("{filler}&c=args_only_word");
            assert_eq!(post(&body), (vec![3], Some(410)), "pad {pad}");
            assert_eq!(post(&format!("{filler}&c=ok")), (vec![], None), "pad {pad}");
        }
    }
}

/// A target list whose remembered values all rule a rule out still runs
/// it when a value not remembered (new, or seen once) holds its literal:
/// such a value is judged by its own bits, each time it comes.
#[test]
fn new_values_beside_remembered_ones_are_judged_by_their_own_bytes() {
    let e = engine(
        "SecRule REQUEST_HEADERS \"@rx evil\" \"id:1,phase:1,deny,status:403,t:lowercase\"\n\
         SecRule REQUEST_HEADERS \"@rx evil\" \"id:2,phase:1,pass,log,t:none,t:urlDecodeUni\"\n",
    );
    let with = |extra: Option<&str>| {
        let mut r = get("/");
        r.headers.push(("Accept", "text/html"));
        let value;
        if let Some(v) = extra {
            value = v.to_string();
            r.headers.push(("X-Note", &value));
        }
        let tx = run(&e, &r);
        (ids(&tx), status(&tx))
    };
    // The browser's headers, remembered with both rules ruled out.
    for _ in 0..4 {
        assert_eq!(with(None), (vec![], None));
    }
    for i in 0..4 {
        assert_eq!(
            with(Some(&format!("EVIL-{i}"))),
            (vec![1], Some(403)),
            "{i}"
        );
        assert_eq!(with(Some(&format!("%65vil-{i}"))), (vec![2], None), "{i}");
        assert_eq!(with(Some(&format!("fine-{i}"))), (vec![], None), "{i}");
    }
    // Seen again: still judged, now remembered.
    for _ in 0..3 {
        assert_eq!(with(Some("EVIL-0")), (vec![1], Some(403)));
        assert_eq!(with(Some("%65vil-0")), (vec![2], None));
    }
}

/// A link over counts with a number written in the rule is known to miss
/// from the counts alone; what it matches, and what `ctl` or a
/// transformation makes of the counts, must stay as evaluating it gives.
#[test]
fn counts_decide_a_miss_as_evaluating_them_would() {
    let e = engine(
        "SecRule &REQUEST_HEADERS:X-A \"!@eq 0\" \"id:1,phase:1,pass,log,setvar:tx.a=%{MATCHED_VAR}\"\n\
         SecRule &ARGS|&REQUEST_HEADERS:X-B \"@gt 1\" \"id:2,phase:2,pass,log\"\n\
         SecRule &REQUEST_HEADERS:X-C \"@eq 1\" \"id:3,phase:1,pass,log,t:length\"\n\
         SecRule REQUEST_FILENAME \"@streq /off\" \"id:4,phase:1,pass,nolog,ctl:ruleRemoveTargetById=5;REQUEST_HEADERS,ctl:ruleRemoveTargetById=6;ARGS:a\"\n\
         SecRule &REQUEST_HEADERS \"!@eq 99\" \"id:5,phase:1,pass,log\"\n\
         SecRule &ARGS \"@eq 1\" \"id:6,phase:2,pass,log\"\n",
    );
    let with = |uri, headers: &[(&'static str, &'static str)]| {
        let mut r = get(uri);
        r.headers.extend_from_slice(headers);
        run(&e, &r)
    };
    for _ in 0..2 {
        // (3: the length of the count's text "0" is 1.)
        assert_eq!(ids(&with("/x?a=1", &[])), vec![3, 5, 6]);
        let tx = with("/x", &[("X-A", "1"), ("X-A", "2"), ("X-C", "c")]);
        assert_eq!(ids(&tx), vec![1, 3, 5]);
        assert_eq!(tx.tx("a"), Some(&b"2"[..]));
        assert_eq!(ids(&with("/x?a=1&b=2", &[])), vec![3, 5, 2]);
        assert_eq!(
            ids(&with("/x", &[("X-B", "1"), ("X-B", "2")])),
            vec![3, 5, 2]
        );
        // The whole collection removed: no count at all, so the negated
        // operator has nothing to match; one name removed: one fewer.
        assert_eq!(ids(&with("/off?a=1&b=2", &[])), vec![3, 2, 6]);
        assert_eq!(ids(&with("/x?a=1&b=2", &[])), vec![3, 5, 2]);
    }
}
