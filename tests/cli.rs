//! The command line: `check`, `-t`, and refusing to start on a bad config.

use crate::harness::{check, run_binary, Gateway};
use std::path::Path;

/// The default config, its relative rule files made absolute so it can be
/// checked and run from a temp dir.
fn default_config() -> String {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf");
    let text = std::fs::read_to_string(conf.join("gatehouse.yaml")).expect("conf/gatehouse.yaml");
    text.replace("- waf/", &format!("- {}/waf/", conf.display()))
}

#[test]
fn check_prints_every_located_error_and_exits_1() {
    let out = check(
        "services:\n  - name: api\n    url: http://127.0.0.1:9\n    retires: 3\n    routes:\n      - name: users\n        paths: ['~/users/(\\d+']\n    plugins:\n      - name: jwtt\n",
    );
    assert_eq!(out.code, 1, "{}", out.combined());
    let file = out.path.display().to_string();
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with(&file))
        .collect();
    assert_eq!(
        lines.len(),
        4,
        "three errors and a summary:\n{}",
        out.stderr
    );
    assert_eq!(
        lines[0],
        format!("{file}:4:5: services[0].retires: unknown key `retires`, did you mean `retries`?")
    );
    assert_eq!(
        lines[1],
        format!("{file}:7:16: services[0].routes[0].paths[0]: invalid regex: unclosed group")
    );
    assert_eq!(
        lines[2],
        format!(
            "{file}:9:15: services[0].plugins[0].name: unknown plugin `jwtt`, did you mean `jwt`?"
        )
    );
    assert_eq!(lines[3], format!("{file}: 3 error(s)"));
}

#[test]
fn check_accepts_the_default_config() {
    let out = check(&default_config());
    assert_eq!(out.code, 0, "{}", out.combined());
    assert!(
        out.stdout.contains("configuration is valid"),
        "{}",
        out.stdout
    );
}

#[test]
fn dash_t_tests_the_config_like_nginx() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "services:\n  - name: x\n").unwrap();
    let out = run_binary(&["-t", "-c", bad.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("missing `url` (or `host`)"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_bad_config_never_starts() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("gatehouse.yaml");
    std::fs::write(
        &bad,
        "gatehouse:\n  listeners:\n    - address: 127.0.0.1:1\n  workerz: 2\n",
    )
    .unwrap();
    let out = run_binary(&["-c", bad.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.combined());
    assert!(
        out.stderr
            .contains("gatehouse.workerz: unknown key `workerz`, did you mean `workers`?"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("refusing to start"), "{}", out.stderr);
}

/// Each bad config with the message a user must see, at the right place.
#[test]
fn bad_configs_and_their_messages() {
    let cases: &[(&str, &str)] = &[
        ("services:\n  - name: a\n    url: http://127.0.0.1:9\n    routes:\n      - paths: [api]\n", "5:17: services[0].routes[0].paths[0]: path must start with '/' or '~'"),
        ("services:\n  - name: a\n    url: http://no-such-host.invalid\n", "3:10: services[0].url: cannot resolve host `no-such-host.invalid`"),
        ("services:\n  - name: a\n    url: mock://\n    connect_timeout: 0\n", "4:22: services[0].connect_timeout: must be at least 1 (milliseconds)"),
        ("services:\n  - name: a\n    url: mock://\n    routes:\n      - hosts: ['a.*.com']\n", "services[0].routes[0].hosts[0]:"),
        ("routes:\n  - name: r\n    service: ghost\n    paths: [/]\n", "3:14: routes[0].service: unknown service `ghost`"),
        ("plugins:\n  - name: rate-limiting\n", "2:11: plugins[0].name: plugin `rate-limiting` is not supported yet"),
        ("consumers:\n  - tags: [x]\n", "2:5: consumers[0]: a consumer needs a `username` or a `custom_id`"),
        ("gatehouse:\n  trusted_proxies: [10.0.0.1/8]\n", "2:21: gatehouse.trusted_proxies[0]: `10.0.0.1/8` has host bits set"),
        ("gatehouse:\n  admin:\n    address: 0.0.0.0:8000\n", "3:14: gatehouse.admin.address: the admin address `0.0.0.0:8000` is also a proxy listener"),
        ("upstreams:\n  - name: u\n    targets:\n      - target: 127.0.0.1:8080\n        weight: 70000\n", "5:17: upstreams[0].targets[0].weight: weight must be between 0 and 65535"),
        ("services:\n  - name: a\n    url: mock://\n    routes:\n      - paths: [/a]\n        strip_path: yes\n", "6:21: services[0].routes[0].strip_path: expected a boolean, found a string"),
        ("services:\n  - name: a\n    url: http://x:${NO_SUCH_VARIABLE_SET}\n", "3:10: environment variable `NO_SUCH_VARIABLE_SET` is not set"),
        ("services:\n  - name: a\n    url: mock://\n  - name: a\n    url: mock://\n", "4:11: services[1].name: duplicate service name `a`"),
    ];
    for (yaml, expected) in cases {
        let out = check(yaml);
        assert_eq!(out.code, 1, "{yaml}\n{}", out.combined());
        let file = out.path.display().to_string();
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with(&file) && l.contains(expected)),
            "expected `{expected}` for:\n{yaml}\ngot:\n{}",
            out.stderr
        );
    }
}

#[test]
fn default_config_serves_its_routes_with_nothing_else_running() {
    // The default config's own listeners are fixed ports; keep its
    // services and let the harness pick free ports.
    let config = default_config();
    let services = config
        .split_once("\nservices:")
        .map(|(_, s)| format!("services:{s}"))
        .expect("services section");
    let gw = Gateway::start(&services);
    let r = gw.get("/hello");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["message"], "hello from gatehouse");
    let echo = gw.get("/echo/x?y=1").json();
    assert_eq!(echo["path"], "/x");
    // Its WAF: baseline rules and the site's SecRules (seed rule 1001).
    let xss = gw.get("/echo/x?q=%3Cscript%3Ealert(1)%3C/script%3E");
    assert_eq!(xss.status, 403);
    assert_eq!(xss.json()["message"], "Forbidden");
    let sqli = gw.get("/echo/x?id=1%27%20union%20select%20password%20from%20users--");
    assert_eq!(sqli.status, 403);
}
