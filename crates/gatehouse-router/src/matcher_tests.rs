use super::*;

fn route(hosts: &[&str], paths: &[&str], methods: &[&str]) -> RouteSpec {
    RouteSpec {
        hosts: hosts.iter().map(|s| s.to_string()).collect(),
        paths: paths.iter().map(|s| s.to_string()).collect(),
        methods: methods.iter().map(|s| s.to_string()).collect(),
        ..RouteSpec::default()
    }
}

fn router(routes: &[RouteSpec]) -> Router {
    Router::new(routes).unwrap()
}

/// Index of the winning route, if any.
fn pick(r: &Router, host: Option<&str>, path: &str, method: &str) -> Option<usize> {
    r.find(host, path, method).map(|m| m.route)
}

fn errors(spec: RouteSpec) -> Vec<RouteSpecError> {
    Router::new(&[route(&[], &["/ok"], &[]), spec]).unwrap_err()
}

fn single_error(spec: RouteSpec) -> RouteSpecError {
    let errs = errors(spec);
    assert_eq!(errs.len(), 1, "{errs:?}");
    errs.into_iter().next().unwrap()
}

#[test]
fn empty_router_and_catch_all() {
    assert_eq!(router(&[]).find(None, "/", "GET"), None);
    let r = router(&[RouteSpec::default()]);
    assert_eq!(
        r.find(None, "/anything", "DELETE"),
        Some(RouteMatch {
            route: 0,
            matched_len: 0
        })
    );
}

#[test]
fn prefix_is_a_plain_string_prefix() {
    let r = router(&[route(&[], &["/api"], &[])]);
    assert_eq!(pick(&r, None, "/api", "GET"), Some(0));
    assert_eq!(pick(&r, None, "/api/x", "GET"), Some(0));
    assert_eq!(pick(&r, None, "/apix", "GET"), Some(0));
    assert_eq!(pick(&r, None, "/ap", "GET"), None);
    assert_eq!(pick(&r, None, "/x/api", "GET"), None);
    assert_eq!(r.find(None, "/api/x", "GET").unwrap().matched_len, 4);
}

#[test]
fn regex_is_anchored_at_path_start() {
    let r = router(&[route(&[], &[r"~/users/\d+"], &[])]);
    assert_eq!(pick(&r, None, "/x/users/1", "GET"), None);
    let m = r.find(None, "/users/123/posts", "GET").unwrap();
    assert_eq!(m.matched_len, "/users/123".len());
    // Alternation must not escape the anchor.
    let r = router(&[route(&[], &["~/a|/b"], &[])]);
    assert_eq!(pick(&r, None, "/b", "GET"), Some(0));
    assert_eq!(pick(&r, None, "/x/b", "GET"), None);
}

#[test]
fn regex_end_anchor() {
    let r = router(&[route(&[], &[r"~/users/\d+$"], &[])]);
    assert_eq!(pick(&r, None, "/users/12", "GET"), Some(0));
    assert_eq!(pick(&r, None, "/users/12/x", "GET"), None);
}

#[test]
fn methods_filter() {
    let r = router(&[route(&[], &[], &["GET", "HEAD"])]);
    assert_eq!(pick(&r, None, "/", "GET"), Some(0));
    assert_eq!(pick(&r, None, "/", "HEAD"), Some(0));
    assert_eq!(pick(&r, None, "/", "POST"), None);
    assert_eq!(pick(&r, None, "/", "get"), None);
}

#[test]
fn hosts_filter_and_missing_host() {
    let r = router(&[route(&["api.example.com"], &[], &[])]);
    assert_eq!(pick(&r, Some("API.example.COM"), "/", "GET"), Some(0));
    assert_eq!(pick(&r, Some("api.example.com:8080"), "/", "GET"), Some(0));
    assert_eq!(pick(&r, Some("other.example.com"), "/", "GET"), None);
    assert_eq!(pick(&r, None, "/", "GET"), None);
}

#[test]
fn wildcard_hosts_both_sides() {
    let r = router(&[
        route(&["*.example.com"], &[], &[]),
        route(&["example.*"], &[], &[]),
    ]);
    assert_eq!(pick(&r, Some("a.example.com"), "/", "GET"), Some(0));
    assert_eq!(pick(&r, Some("a.b.example.com:443"), "/", "GET"), Some(0));
    assert_eq!(pick(&r, Some("example.org"), "/", "GET"), Some(1));
    // "*.example.com" needs a label before the suffix, so only route 1 matches.
    assert_eq!(pick(&r, Some("example.com"), "/", "GET"), Some(1));
    assert_eq!(pick(&r, Some("example"), "/", "GET"), None);
}

#[test]
fn host_with_port_must_match_exactly() {
    let r = router(&[
        route(&["api.example.com:8000"], &[], &[]),
        route(&["api.example.com"], &["/fallback"], &[]),
    ]);
    assert_eq!(pick(&r, Some("api.example.com:8000"), "/", "GET"), Some(0));
    assert_eq!(pick(&r, Some("api.example.com:8001"), "/", "GET"), None);
    assert_eq!(pick(&r, Some("api.example.com"), "/", "GET"), None);
    assert_eq!(
        pick(&r, Some("api.example.com:8001"), "/fallback", "GET"),
        Some(1)
    );
}

#[test]
fn priority_beats_everything() {
    let mut low = route(&["api.example.com"], &["/exact"], &["GET"]);
    low.priority = 0;
    let mut high = route(&[], &[], &[]);
    high.priority = 1;
    let r = router(&[low, high]);
    assert_eq!(pick(&r, Some("api.example.com"), "/exact", "GET"), Some(1));
}

#[test]
fn negative_priority_loses_to_default() {
    let mut neg = route(&["api.example.com"], &["/exact"], &[]);
    neg.priority = -1;
    let r = router(&[neg, route(&[], &[], &[])]);
    assert_eq!(pick(&r, Some("api.example.com"), "/exact", "GET"), Some(1));
}

#[test]
fn host_specificity_exact_over_wildcard_over_none() {
    let r = router(&[
        route(&[], &["/a/b/c"], &[]),
        route(&["*.example.com"], &["/a"], &[]),
        route(&["api.example.com"], &["/"], &[]),
    ]);
    // Host class is compared before the path, so a longer path loses.
    assert_eq!(pick(&r, Some("api.example.com"), "/a/b/c", "GET"), Some(2));
    assert_eq!(pick(&r, Some("www.example.com"), "/a/b/c", "GET"), Some(1));
    assert_eq!(pick(&r, Some("other.org"), "/a/b/c", "GET"), Some(0));
}

#[test]
fn route_with_both_host_kinds_uses_the_one_that_matched() {
    let r = router(&[
        route(&["*.example.com", "api.example.com"], &[], &[]),
        route(&["api.example.com"], &[], &["GET"]),
    ]);
    // Route 0 matches api.example.com exactly, like route 1, which then wins on
    // methods; for www only route 0 matches, via its wildcard.
    assert_eq!(pick(&r, Some("api.example.com"), "/", "GET"), Some(1));
    assert_eq!(pick(&r, Some("www.example.com"), "/", "GET"), Some(0));
    let r = router(&[
        route(&["*.example.com", "api.example.com"], &[], &[]),
        route(&["*.example.com"], &[], &["GET"]),
    ]);
    // Exact host of route 0 beats the wildcard + method of route 1.
    assert_eq!(pick(&r, Some("api.example.com"), "/", "GET"), Some(0));
    // Via wildcards both tie on host, route 1 wins on methods.
    assert_eq!(pick(&r, Some("www.example.com"), "/", "GET"), Some(1));
}

#[test]
fn path_classes_exact_over_regex_over_prefix_over_none() {
    let r = router(&[
        route(&[], &[], &[]),
        route(&[], &["/users/42/profile/extra/long"], &[]),
        route(&[], &["/users"], &[]),
        route(&[], &[r"~/users/\d+"], &[]),
        route(&[], &["/users/42"], &[]),
    ]);
    // Exact plain match beats the regex.
    assert_eq!(pick(&r, None, "/users/42", "GET"), Some(4));
    // Regex (class 2) beats prefix (class 1) when both match.
    assert_eq!(pick(&r, None, "/users/42/x", "GET"), Some(3));
    // Regex beats even a longer matching prefix.
    assert_eq!(
        pick(&r, None, "/users/42/profile/extra/longer", "GET"),
        Some(3)
    );
    assert_eq!(pick(&r, None, "/users/abc", "GET"), Some(2));
    assert_eq!(pick(&r, None, "/other", "GET"), Some(0));
}

#[test]
fn exact_bonus_only_for_full_match() {
    let r = router(&[route(&[], &["/a"], &[]), route(&[], &["/a/b"], &[])]);
    assert_eq!(pick(&r, None, "/a", "GET"), Some(0));
    assert_eq!(r.find(None, "/a", "GET").unwrap().matched_len, 2);
    assert_eq!(pick(&r, None, "/a/b/c", "GET"), Some(1));
    assert_eq!(pick(&r, None, "/a/c", "GET"), Some(0));
}

#[test]
fn longer_prefix_wins() {
    let r = router(&[
        route(&[], &["/"], &[]),
        route(&[], &["/api"], &[]),
        route(&[], &["/api/v1"], &[]),
    ]);
    assert_eq!(pick(&r, None, "/api/v1/users", "GET"), Some(2));
    assert_eq!(pick(&r, None, "/api/v2", "GET"), Some(1));
    assert_eq!(pick(&r, None, "/x", "GET"), Some(0));
    assert_eq!(r.find(None, "/api/v2", "GET").unwrap().matched_len, 4);
}

#[test]
fn regex_priority_then_source_length() {
    let mut a = route(&[], &["~/a"], &[]);
    a.regex_priority = 1;
    let b = route(&[], &["~/a/b/c"], &[]);
    let c = route(&[], &["~/a/b"], &[]);
    let r = router(&[b, c, a]);
    // Higher regex_priority wins over a longer regex.
    assert_eq!(pick(&r, None, "/a/b/c", "GET"), Some(2));
    let r = router(&[route(&[], &["~/a/b"], &[]), route(&[], &["~/a/b/c"], &[])]);
    // Same regex_priority: longer source wins.
    assert_eq!(pick(&r, None, "/a/b/c", "GET"), Some(1));
}

#[test]
fn methods_break_ties() {
    let r = router(&[route(&[], &["/a"], &[]), route(&[], &["/a"], &["POST"])]);
    assert_eq!(pick(&r, None, "/a/x", "POST"), Some(1));
    assert_eq!(pick(&r, None, "/a/x", "GET"), Some(0));
}

#[test]
fn config_order_breaks_remaining_ties() {
    let r = router(&[
        route(&["a.example.com"], &["/x"], &["GET"]),
        route(&["b.example.com", "a.example.com"], &["/x"], &["GET"]),
    ]);
    assert_eq!(pick(&r, Some("a.example.com"), "/x/1", "GET"), Some(0));
    assert_eq!(pick(&r, Some("b.example.com"), "/x/1", "GET"), Some(1));
    let r = router(&[route(&[], &["/y"], &[]), route(&[], &["/x"], &[])]);
    assert_eq!(pick(&r, None, "/x", "GET"), Some(1));
}

#[test]
fn best_path_of_a_route_determines_matched_len() {
    let r = router(&[route(&[], &["/a", "/a/b"], &[])]);
    assert_eq!(r.find(None, "/a/b/c", "GET").unwrap().matched_len, 4);
    assert_eq!(r.find(None, "/a/c", "GET").unwrap().matched_len, 2);
}

#[test]
fn invalid_paths() {
    let e = single_error(route(&[], &["/ok", "api"], &[]));
    assert_eq!((e.route, e.field, e.index), (1, "paths", 1));
    assert_eq!(e.message, "path must start with '/' or '~'");

    let e = single_error(route(&[], &["~/a("], &[]));
    assert!(e.message.starts_with("invalid regex: "), "{}", e.message);
    assert!(!e.message.contains('\n'), "one line: {}", e.message);

    let e = single_error(route(&[], &["/a//b/./c"], &[]));
    assert_eq!(e.message, "path is not normalised, use /a/b/c");

    let e = single_error(route(&[], &["/%7euser"], &[]));
    assert_eq!(e.message, "path is not normalised, use /~user");

    let e = single_error(route(&[], &["/a%zz"], &[]));
    assert!(e.message.starts_with("invalid path: "), "{}", e.message);

    assert!(single_error(route(&[], &["~"], &[]))
        .message
        .contains("empty"));
    assert!(single_error(route(&[], &[""], &[]))
        .message
        .contains("'/' or '~'"));
    assert!(single_error(route(&[], &["/a?b"], &[]))
        .message
        .contains("'?'"));
}

#[test]
fn invalid_hosts_and_methods() {
    let e = single_error(route(&["ok.example.com", "a.*.com"], &[], &[]));
    assert_eq!((e.route, e.field, e.index), (1, "hosts", 1));
    assert_eq!(
        e.message,
        "host wildcard must be leftmost or rightmost label only"
    );
    let e = single_error(route(&[""], &[], &[]));
    assert_eq!((e.field, e.index), ("hosts", 0));

    let e = single_error(route(&[], &[], &["GET", "BAD METHOD"]));
    assert_eq!((e.route, e.field, e.index), (1, "methods", 1));
    assert!(e.message.contains("invalid character ' '"), "{}", e.message);
    let e = single_error(route(&[], &[], &["get"]));
    assert_eq!(e.message, "method must be uppercase, use GET");
    assert_eq!(single_error(route(&[], &[], &[""])).field, "methods");
    // Token punctuation is allowed.
    assert!(Router::new(&[route(&[], &[], &["M-SEARCH", "X_Y!"])]).is_ok());
}

#[test]
fn all_errors_are_reported() {
    let errs = errors(route(&["a..b"], &["x", "~("], &["G T"]));
    let fields: Vec<_> = errs.iter().map(|e| (e.field, e.index)).collect();
    assert_eq!(
        fields,
        vec![("hosts", 0), ("methods", 0), ("paths", 0), ("paths", 1)]
    );
    assert!(errs.iter().all(|e| e.route == 1));
    assert_eq!(
        errs[0].to_string(),
        "route 1: hosts[0]: host has an empty label"
    );
}

#[test]
fn upstream_path_kong_v0() {
    assert_eq!(upstream_path(Some("/s"), "/fv0/req", 4, true), "/s/req");
    assert_eq!(upstream_path(Some("/s"), "/fv0req", 4, true), "/sreq");
    assert_eq!(
        upstream_path(Some("/s"), "/fv0/req", 4, false),
        "/s/fv0/req"
    );
    assert_eq!(upstream_path(Some("/s/"), "/fv0/req", 4, true), "/s/req");
    assert_eq!(
        upstream_path(Some("/s/"), "/fv0/req", 4, false),
        "/s/fv0/req"
    );
    assert_eq!(upstream_path(None, "/fv0", 4, true), "/");
    assert_eq!(upstream_path(None, "/fv0/x", 4, true), "/x");
    assert_eq!(upstream_path(None, "/fv0/x", 4, false), "/fv0/x");
    assert_eq!(upstream_path(Some("/s"), "/fv0", 4, true), "/s");
    assert_eq!(upstream_path(None, "/fv0req", 4, true), "/req");
    assert_eq!(upstream_path(Some(""), "/a", 0, false), "/a");
    // A service path without a leading slash still yields an absolute path.
    assert_eq!(upstream_path(Some("s"), "/a", 0, false), "/s/a");
    // A route without paths matches 0 bytes: nothing is stripped.
    assert_eq!(upstream_path(Some("/s"), "/a", 0, true), "/s/a");
    // Out-of-range length must not panic.
    assert_eq!(upstream_path(None, "/a", 10, true), "/a");
    assert_eq!(upstream_path(None, "/\u{e9}", 2, true), "/\u{e9}");
}

#[test]
fn find_combines_with_upstream_path() {
    let r = router(&[route(&[], &[r"~/v\d+"], &[])]);
    let m = r.find(None, "/v12/items", "GET").unwrap();
    assert_eq!(
        upstream_path(Some("/svc"), "/v12/items", m.matched_len, true),
        "/svc/items"
    );
}

#[test]
fn router_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Router>();
}
