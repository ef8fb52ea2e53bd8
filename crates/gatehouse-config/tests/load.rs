//! Whole-configuration tests: what `gatehouse check` reports for real files.

use gatehouse_config::{load, load_str, load_with_env, Backend, Diagnostics, Plan};
use std::path::Path;

fn env(name: &str) -> Option<String> {
    match name {
        "UPSTREAM_PORT" => Some("9001".into()),
        _ => None,
    }
}

fn ok(yaml: &str) -> Plan {
    match load_str("g.yaml", yaml, &env) {
        Ok(p) => p,
        Err(d) => panic!("unexpected errors:\n{d}"),
    }
}

fn errors(yaml: &str) -> Vec<String> {
    match load_str("g.yaml", yaml, &env) {
        Ok(_) => panic!("expected errors"),
        Err(Diagnostics(d)) => d.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn default_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conf/gatehouse.yaml");
    let plan = load(&path).unwrap();
    assert!(plan.routes.len() >= 2);
    assert!(plan
        .services
        .iter()
        .any(|s| matches!(s.backend, Backend::Mock(_))));
    assert_eq!(
        plan.admin.map(|a| a.ip().is_loopback()),
        Some(true),
        "admin is loopback by default"
    );
}

#[test]
fn three_mistakes_three_located_errors() {
    let errs = errors(
        "services:\n\
         \x20 - name: api\n\
         \x20   url: http://127.0.0.1:9000\n\
         \x20   retires: 3\n\
         \x20   routes:\n\
         \x20     - name: r1\n\
         \x20       paths: ['~/users/(\\d+']\n\
         \x20   plugins:\n\
         \x20     - name: jwtt\n",
    );
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_eq!(
        errs[0],
        "g.yaml:4:5: services[0].retires: unknown key `retires`, did you mean `retries`?"
    );
    assert!(
        errs[1].starts_with("g.yaml:7:16: services[0].routes[0].paths[0]: invalid regex"),
        "{}",
        errs[1]
    );
    assert_eq!(
        errs[2],
        "g.yaml:9:15: services[0].plugins[0].name: unknown plugin `jwtt`, did you mean `jwt`?"
    );
}

#[test]
fn errors_in_separate_entities_are_all_found() {
    let errs = errors(
        "services:\n  - name: a\n    url: http://127.0.0.1:1\n    port: 80\n  - name: b\n    url: ftp://x\n  - name: bad name\n    url: http://127.0.0.1:2\n",
    );
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(
        errs[0].contains("services[0]") && errs[0].contains("not both"),
        "{}",
        errs[0]
    );
    assert!(
        errs[1].contains("services[1].url: unknown protocol `ftp`"),
        "{}",
        errs[1]
    );
    assert!(
        errs[2].contains("services[2].name: `bad name` is not a valid name"),
        "{}",
        errs[2]
    );
}

#[test]
fn plugins_are_refused_until_supported() {
    let errs = errors(
        "plugins:\n  - name: rate-limiting\n    config: {minute: 5}\nservices:\n  - name: a\n    url: mock://\n    routes:\n      - paths: [/a]\n        plugins:\n          - name: cors\n",
    );
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs[0].ends_with("plugins[0].name: plugin `rate-limiting` is not supported yet"));
    assert!(errs[1]
        .ends_with("services[0].routes[0].plugins[0].name: plugin `cors` is not supported yet"));
}

#[test]
fn top_level_routes_name_their_service() {
    let plan = ok("services:\n  - name: api\n    url: mock://\nroutes:\n  - name: r\n    service: api\n    paths: [/x]\n  - name: s\n    service: {name: api}\n    hosts: [a.example]\n");
    assert_eq!(plan.routes.len(), 2);
    assert_eq!(plan.routes[1].service, 0);
    let errs = errors("services:\n  - name: api\n    url: mock://\nroutes:\n  - name: r\n    service: apj\n    paths: [/x]\n");
    assert_eq!(
        errs,
        vec!["g.yaml:6:14: routes[0].service: unknown service `apj`, did you mean `api`?"]
    );
}

#[test]
fn duplicates_are_reported_with_the_first_location() {
    let errs = errors("services:\n  - name: a\n    url: mock://\n  - name: a\n    url: mock://\n");
    assert_eq!(
        errs,
        vec![
            "g.yaml:4:11: services[1].name: duplicate service name `a` (first defined at g.yaml:2)"
        ]
    );
}

#[test]
fn gatehouse_section_errors() {
    let errs = errors(
        "gatehouse:\n  listeners:\n    - address: localhost\n  trusted_proxies: [10.0.0.0/8, 10.0.0.1/8, nope]\n  workers: 0\n  timeouts:\n    connect: 5 minutes\n",
    );
    assert_eq!(errs.len(), 5, "{errs:#?}");
    assert!(errs[0]
        .starts_with("g.yaml:3:16: gatehouse.listeners[0].address: `localhost` is not an address"));
    assert!(errs[1].contains("gatehouse.trusted_proxies[1]: `10.0.0.1/8` has host bits set; did you mean `10.0.0.0/8`?"), "{}", errs[1]);
    assert!(errs[2].contains("gatehouse.trusted_proxies[2]: `nope` is not a valid IP"));
    assert!(errs[3].contains("gatehouse.workers: workers must be at least 1"));
    assert!(
        errs[4].contains("gatehouse.timeouts.connect: unknown duration unit"),
        "{}",
        errs[4]
    );
}

#[test]
fn env_expansion_and_missing_variable() {
    let plan = ok("services:\n  - name: a\n    url: http://127.0.0.1:${UPSTREAM_PORT}\n    routes: [{paths: [/]}]\n");
    let Backend::Http(b) = &plan.services[0].backend else {
        panic!()
    };
    assert_eq!(b.pool.targets()[0].addr.port(), 9001);
    let errs = errors("services:\n  - name: a\n    url: http://127.0.0.1:${NOT_SET}\n");
    assert_eq!(
        errs,
        vec!["g.yaml:3:10: environment variable `NOT_SET` is not set"]
    );
}

#[test]
fn upstreams_targets_and_health_checks() {
    let plan = ok(
        "upstreams:\n  - name: pool.internal\n    targets:\n      - target: 127.0.0.1:9001\n        weight: 10\n      - target: 127.0.0.2\n    healthchecks:\n      active:\n        http_path: /health\n        healthy: {interval: 1, successes: 2}\n        unhealthy: {interval: 1, http_failures: 3}\nservices:\n  - name: api\n    host: pool.internal\n    routes: [{paths: [/]}]\n",
    );
    let u = &plan.upstreams[0];
    assert_eq!(u.pool.targets().len(), 2);
    assert_eq!(
        u.pool.targets()[1].addr.port(),
        8000,
        "Kong's default target port"
    );
    let check = u.active_check.as_ref().unwrap();
    assert_eq!(check.http_path, "/health");
    assert_eq!(check.unhealthy_http_failures, 3);
    let Backend::Http(b) = &plan.services[0].backend else {
        panic!()
    };
    assert_eq!(b.upstream, Some(0));
    assert_eq!(b.host_header, "pool.internal");
    let errs = errors("upstreams:\n  - name: u\n    algorithm: latency\n    targets: [{target: 'x:99999'}]\n    healthchecks: {passive: {}}\n");
    assert_eq!(errs.len(), 3, "{errs:#?}");
}

#[test]
fn route_field_errors() {
    let errs = errors(
        "services:\n  - name: a\n    url: mock://\n    routes:\n      - name: r\n        methods: [get]\n        protocols: [grpc]\n        headers: {x: [y]}\n      - name: empty\n",
    );
    assert_eq!(errs.len(), 4, "{errs:#?}");
    assert!(
        errs[0].contains("methods[0]: method `get` must be uppercase"),
        "{}",
        errs[0]
    );
    assert!(errs[1].contains("protocols[0]: protocol `grpc` is not supported yet"));
    assert!(errs[2].contains("services[0].routes[0].headers: `headers` is not supported yet"));
    assert!(errs[3].contains("routes[1]: a route needs at least one of"));
}

#[test]
fn folder_of_files_merges() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("00-gatehouse.yaml"),
        "gatehouse:\n  workers: 1\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("10-a.yaml"),
        "services:\n  - name: a\n    url: mock://\n    routes: [{paths: [/a]}]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("20-b.yml"),
        "services:\n  - name: b\n    url: echo://\n    routes: [{paths: [/b]}]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("README.txt"), "not yaml: [").unwrap();
    let plan = load_with_env(dir.path(), &env).unwrap();
    assert_eq!(plan.services.len(), 2);
    assert_eq!(plan.server.workers, 1);
    std::fs::write(dir.path().join("30-c.yaml"), "gatehouse:\n  workers: 2\n").unwrap();
    let Err(Diagnostics(d)) = load_with_env(dir.path(), &env) else {
        panic!()
    };
    assert_eq!(d.len(), 1);
    assert!(
        d[0].to_string()
            .contains("30-c.yaml:2:3: gatehouse: the `gatehouse` section is already defined at"),
        "{}",
        d[0]
    );
}

#[test]
fn unreadable_and_malformed_files() {
    let Err(Diagnostics(d)) = load(Path::new("/nonexistent/gatehouse.yaml")) else {
        panic!()
    };
    assert!(d[0]
        .to_string()
        .starts_with("/nonexistent/gatehouse.yaml:1:1: cannot read configuration"));
    let errs = errors("services: [\n");
    assert!(
        errs[0].starts_with("g.yaml:") && errs[0].contains("invalid YAML"),
        "{}",
        errs[0]
    );
    let errs = errors("_format_version: '9.9'\n");
    assert!(errs[0].contains("unsupported format version `9.9`"));
}

#[test]
fn disabled_service_routes_are_not_matched() {
    let plan = ok("services:\n  - name: a\n    url: mock://\n    enabled: false\n    routes: [{paths: [/a]}]\n  - name: b\n    url: mock://\n    routes: [{paths: [/b]}]\n");
    assert!(plan.router.find(None, "/a", "GET").is_none());
    assert!(plan.router.find(None, "/b", "GET").is_some());
}

#[test]
fn http_limits_and_client_header_timeout() {
    let plan = ok("gatehouse:\n  http:\n    max_request_line: 4k\n    max_header_line: 2048\n    max_header_section: 16k\n    max_headers: 50\n  timeouts:\n    client_header: 10s\n");
    let l = plan.server.http_limits;
    assert_eq!(
        (
            l.max_request_line,
            l.max_header_line,
            l.max_header_section,
            l.max_headers
        ),
        (4096, 2048, 16384, 50)
    );
    assert_eq!(plan.server.client_header_timeout.as_secs(), 10);
    let defaults = ok("services: []\n");
    assert_eq!(
        defaults.server.http_limits,
        gatehouse_protocol::Limits::default()
    );
    assert_eq!(defaults.server.client_header_timeout.as_secs(), 60);

    let errs = errors("gatehouse:\n  http:\n    max_headers: 0\n    max_header_section: 2m\n    max_header_size: 1k\n");
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_eq!(
        errs[0],
        "g.yaml:3:18: gatehouse.http.max_headers: must be greater than 0"
    );
    assert!(errs[1].starts_with("g.yaml:4:25: gatehouse.http.max_header_section: max_request_line + max_header_section must be at most"), "{}", errs[1]);
    assert!(
        errs[2].starts_with("g.yaml:5:5: gatehouse.http.max_header_size: unknown key"),
        "{}",
        errs[2]
    );
    let errs = errors("gatehouse:\n  http:\n    max_headers: 300\n");
    assert_eq!(
        errs,
        vec!["g.yaml:3:18: gatehouse.http.max_headers: must be at most 256"]
    );
}

#[test]
fn kong_jwt_snippet_from_the_seed_loads_unchanged() {
    let plan = ok("services:\n  - name: user-service\n    url: http://127.0.0.1:8080\n    routes:\n      - name: user-routes\n        paths:\n          - /api/users\n    plugins:\n      - name: jwt\n        config:\n          key_claim_name: iss\n          secret_is_base64: false\n          claims_to_verify:\n            - exp\n            - nbf\n          run_on_preflight: true\nconsumers:\n  - username: app\n    jwt_secrets:\n      - key: https://auth.example.com\n        secret: s3cr3t\n");
    let auth = plan.routes[0]
        .auth
        .as_ref()
        .expect("the jwt plugin applies to the route");
    assert_eq!(auth.key_claim_name, "iss");
    assert!(auth.rules.verify_exp && auth.rules.verify_nbf);
    assert!(auth.run_on_preflight);
    assert!(auth.credentials.contains_key("https://auth.example.com"));
}

#[test]
fn plugin_precedence_route_over_service_over_global() {
    let plan = ok("plugins:\n  - name: jwt\n    config: {key_claim_name: global}\n  - name: jwt\n    route: r3\n    config: {key_claim_name: top-route}\nservices:\n  - name: a\n    url: mock://\n    plugins:\n      - name: jwt\n        config: {key_claim_name: service}\n    routes:\n      - name: r1\n        paths: [/1]\n      - name: r2\n        paths: [/2]\n        plugins:\n          - name: jwt\n            config: {key_claim_name: route}\n      - name: r3\n        paths: [/3]\n  - name: b\n    url: mock://\n    routes:\n      - name: r4\n        paths: [/4]\n      - name: r5\n        paths: [/5]\n        plugins:\n          - name: jwt\n            enabled: false\n");
    let claim = |i: usize| {
        plan.routes[i]
            .auth
            .as_ref()
            .map(|a| a.key_claim_name.clone())
    };
    assert_eq!(claim(0).as_deref(), Some("service"));
    assert_eq!(claim(1).as_deref(), Some("route"));
    assert_eq!(claim(2).as_deref(), Some("top-route"));
    assert_eq!(claim(3).as_deref(), Some("global"));
    assert_eq!(
        claim(4).as_deref(),
        Some("global"),
        "a disabled entry applies nothing"
    );
    let errs = errors("services:\n  - name: a\n    url: mock://\n    routes:\n      - paths: [/]\n        plugins:\n          - name: jwt\n          - name: jwt\n");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(
        errs[0].contains("plugin `jwt` is already set for route"),
        "{}",
        errs[0]
    );
}

#[test]
fn the_waf_remembers_values_unless_told_not_to() {
    use gatehouse_waf::request::RequestInput;
    let yaml = |extra: &str| {
        format!(
            "services:\n  - name: api\n    url: http://127.0.0.1:9000\n    routes:\n      - name: all\n        paths: [/]\n        plugins:\n          - name: waf\n            config:\n              rules: 'SecRule REQUEST_HEADERS \"@rx evil\" \"id:1,deny\"'\n{extra}"
        )
    };
    let remembered = |extra: &str| {
        let plan = ok(&yaml(extra));
        let engine = plan.routes[0].waf.as_ref().unwrap().engine.clone();
        let headers: Vec<(&[u8], &[u8])> = vec![(b"User-Agent", b"curl/8.5")];
        let input = RequestInput {
            method: "GET",
            uri: b"/",
            protocol: "HTTP/1.1",
            headers: &headers,
            remote_addr: "127.0.0.1",
            remote_port: 1,
            body: None,
        };
        for _ in 0..3 {
            let mut tx = engine.transaction(&input, "t");
            assert!(tx.request_headers().is_none() && tx.request_body(None).is_none());
        }
        engine.recalled_values()
    };
    assert!(remembered("") > 0, "remembered by default");
    assert!(remembered("              remember_values: true\n") > 0);
    assert_eq!(remembered("              remember_values: false\n"), 0);
    let errs = errors(&yaml("              remember_values: sometimes\n"));
    assert!(
        errs.iter().any(|e| e.contains("remember_values")),
        "{errs:#?}"
    );
}
