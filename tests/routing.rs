//! Route matching through the real binary: precedence, path normalisation,
//! strip_path / service paths, Host handling, and the 404 format.

use crate::harness::{Gateway, Request, Upstream};

/// A mock service answering its own name, with one route.
fn mock_route(name: &str, route_yaml: &str) -> String {
    let route = route_yaml.replace('\n', "\n        ");
    format!(
        "  - name: {name}\n    url: mock://\n    mock:\n      body: {name}\n    routes:\n      - name: {name}\n        {route}\n"
    )
}

fn body_of(gw: &Gateway, req: &Request) -> String {
    let r = gw.send(req);
    format!("{} {}", r.status, r.body_str())
}

#[test]
fn most_specific_route_wins() {
    let services = [
        mock_route("catchall", "paths: [/]"),
        mock_route("api", "paths: [/api]"),
        mock_route("api-users", "paths: [/api/users]"),
        mock_route("users-regex", "paths: ['~/api/users/\\d+$']"),
        mock_route(
            "users-regex-low",
            "paths: ['~/api/users/[0-9]+']\nregex_priority: -1",
        ),
        mock_route("exact", "paths: [/api/users/me]"),
        mock_route("host-exact", "hosts: [api.example.com]\npaths: [/api]"),
        mock_route("host-wild", "hosts: ['*.example.com']\npaths: [/api]"),
        mock_route("posts", "paths: [/api/things]\nmethods: [POST]"),
        mock_route("things", "paths: [/api/things]"),
        mock_route("forced", "paths: [/forced]\npriority: 10"),
        mock_route("forced-longer", "paths: [/forced/longer]"),
    ]
    .concat();
    let gw = Gateway::start(&format!("services:\n{services}"));

    let get = |path: &str| body_of(&gw, &Request::get(path));
    assert_eq!(get("/"), "200 catchall");
    assert_eq!(get("/other"), "200 catchall");
    assert_eq!(get("/api/x"), "200 api");
    assert_eq!(get("/api/users/list"), "200 api-users", "longest prefix");
    assert_eq!(
        get("/api/users/42"),
        "200 users-regex",
        "regex beats prefix"
    );
    assert_eq!(
        get("/api/users/42/x"),
        "200 users-regex-low",
        "anchored at start, regex_priority orders"
    );
    assert_eq!(
        get("/api/users/me"),
        "200 exact",
        "exact path beats regex and prefix"
    );
    assert_eq!(
        get("/apix"),
        "200 api",
        "Kong prefixes are plain string prefixes"
    );

    let host = |h: &str, path: &str| body_of(&gw, &Request::get(path).header("Host", h));
    assert_eq!(
        host("api.example.com", "/api/users/1"),
        "200 host-exact",
        "a host match beats a longer path"
    );
    assert_eq!(
        host("API.Example.com:8000", "/api"),
        "200 host-exact",
        "case and port ignored"
    );
    assert_eq!(host("eu.example.com", "/api"), "200 host-wild");
    assert_eq!(
        host("example.com", "/api"),
        "200 api",
        "wildcard needs a subdomain"
    );

    assert_eq!(
        body_of(&gw, &Request::post("/api/things").body("x")),
        "200 posts",
        "method-specific wins"
    );
    assert_eq!(get("/api/things"), "200 things");
    assert_eq!(
        get("/forced/longer"),
        "200 forced",
        "explicit priority beats a longer path"
    );
}

#[test]
fn no_route_is_a_json_404_with_the_request_id() {
    let gw = Gateway::start(&format!(
        "services:\n{}",
        mock_route("only", "paths: [/only]\nmethods: [GET]")
    ));
    for req in [Request::get("/elsewhere"), Request::delete("/only")] {
        let r = gw.send(&req);
        assert_eq!(r.status, 404);
        assert_eq!(
            r.header("content-type"),
            Some("application/json; charset=utf-8")
        );
        let id = r
            .header("x-request-id")
            .expect("request id header")
            .to_string();
        let body = r.json();
        assert_eq!(body["message"], "no Route matched with those values");
        assert_eq!(body["request_id"], id.as_str());
    }
    let m = gw.metrics();
    assert_eq!(
        crate::harness::metric_sum(
            &m,
            "gatehouse_rejections_total",
            &[("reason", "route_not_found")]
        ),
        Some(2.0)
    );
}

#[test]
fn dot_segments_cannot_escape_a_route() {
    let up = Upstream::start();
    let body = format!(
        "services:\n  - name: users\n    url: {}\n    routes:\n      - name: users\n        paths: [/api/users]\n        strip_path: false\n{}",
        up.url(),
        mock_route("admin", "paths: [/admin]")
    );
    let gw = Gateway::start(&body);
    for path in [
        "/api/users/../../admin",
        "/api/users/%2e%2e/%2E%2E/admin",
        "/api/users/./../../admin/",
        "/api/users/x/../../../admin",
    ] {
        let r = gw.get(path);
        assert_eq!(
            (r.status, r.body_str()),
            (200, "admin"),
            "{path} must reach the admin route, not users"
        );
    }
    let r = gw.get("/api/users/../admin");
    assert_eq!(r.status, 404, "/api/admin is no route at all");
    assert_eq!(up.count(), 0, "the users upstream saw none of them");

    let r = gw.get("//api///users/./%41bc?q=%2e%2e");
    assert_eq!(r.status, 200);
    let seen = up.last();
    assert_eq!(
        seen.target, "/api/users/Abc?q=%2e%2e",
        "normalised path forwarded, query untouched"
    );

    let r = gw.get("/api/users/%zz");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["message"], "Bad Request: invalid request target");
    assert_eq!(up.count(), 1);
}

#[test]
fn strip_path_and_service_path() {
    let up = Upstream::start();
    let url = up.url();
    let body = format!(
        "services:\n\
         \x20 - name: stripped\n    url: {url}/v1\n    routes:\n      - name: stripped\n        paths: [/s]\n\
         \x20 - name: kept\n    url: {url}/v1/\n    routes:\n      - name: kept\n        paths: [/k]\n        strip_path: false\n\
         \x20 - name: bare\n    url: {url}\n    routes:\n      - name: bare\n        paths: ['~/r/\\d+']\n"
    );
    let gw = Gateway::start(&body);
    let cases = [
        ("/s/users?a=1&b=%20", "/v1/users?a=1&b=%20"),
        ("/s", "/v1"),
        ("/sx", "/v1x"),
        ("/k/users", "/v1/k/users"),
        ("/r/12/rest", "/rest"),
        ("/r/12", "/"),
    ];
    for (sent, expected) in cases {
        let r = gw.get(sent);
        assert_eq!(r.status, 200, "{sent}");
        assert_eq!(up.last().target, expected, "{sent}");
    }
}

#[test]
fn host_header_follows_preserve_host() {
    let up = Upstream::start();
    let url = up.url();
    let body = format!(
        "services:\n  - name: svc\n    url: {url}\n    routes:\n      - name: plain\n        paths: [/plain]\n      - name: kept\n        paths: [/kept]\n        preserve_host: true\n"
    );
    let gw = Gateway::start(&body);
    gw.send(&Request::get("/plain").header("Host", "public.example"));
    let seen = up.last();
    assert_eq!(seen.header("host"), Some(up.addr().to_string().as_str()));
    assert_eq!(seen.header("x-forwarded-host"), Some("public.example"));
    gw.send(&Request::get("/kept").header("Host", "public.example"));
    assert_eq!(up.last().header("host"), Some("public.example"));
}

#[test]
fn https_only_route_answers_426_on_plain_http() {
    let gw = Gateway::start(&format!(
        "services:\n{}",
        mock_route("secure", "paths: [/secure]\nprotocols: [https]")
    ));
    let r = gw.get("/secure");
    assert_eq!(r.status, 426);
    assert_eq!(r.json()["message"], "Please use HTTPS protocol");
}
