//! Route matching with Kong's precedence rules.
//!
//! Each route is expanded at construction into candidates, one per
//! (host class, path pattern) pair, with plain paths expanded twice (an exact
//! and a prefix candidate). Every candidate then has a fully static precedence
//! key, so after sorting by it `find` returns the first candidate that matches.

use std::cmp::Reverse;
use std::fmt;

use regex::Regex;

use crate::host::{split_request_host, HostPattern};
use crate::path::normalize_path;

/// One route's matching criteria, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteSpec {
    /// `api.example.com`, `*.example.com` or `example.*`, optionally with
    /// `:port`; case-insensitive. Empty matches any host.
    pub hosts: Vec<String>,
    /// `/prefix` (plain string prefix) or `~regex` (anchored at the start of
    /// the path). Empty matches any path.
    pub paths: Vec<String>,
    /// Uppercase method names. Empty matches any method.
    pub methods: Vec<String>,
    /// Higher wins before any other rule.
    pub priority: i64,
    /// Orders regex paths among themselves, higher first.
    pub regex_priority: i64,
}

/// The winning route for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteMatch {
    /// Index of the route in the slice given to [`Router::new`].
    pub route: usize,
    /// Bytes of the path covered by the matching path pattern (prefix length
    /// or regex match end), 0 when the route has no paths; used to strip.
    pub matched_len: usize,
}

/// A problem with one element of one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpecError {
    pub route: usize,
    /// `"paths"`, `"hosts"` or `"methods"`.
    pub field: &'static str,
    /// Index of the offending element within that field.
    pub index: usize,
    pub message: String,
}

impl fmt::Display for RouteSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "route {}: {}[{}]: {}",
            self.route, self.field, self.index, self.message
        )
    }
}

impl std::error::Error for RouteSpecError {}

/// Precompiled routes, immutable and shareable across threads.
#[derive(Debug)]
pub struct Router {
    routes: Vec<CompiledRoute>,
    /// Sorted by precedence, best first.
    candidates: Vec<Candidate>,
}

#[derive(Debug)]
struct CompiledRoute {
    exact_hosts: Vec<HostPattern>,
    wildcard_hosts: Vec<HostPattern>,
    methods: Vec<String>,
}

#[derive(Debug)]
struct Candidate {
    route: usize,
    hosts: HostClass,
    path: PathCheck,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum HostClass {
    Any = 0,
    Wildcard = 1,
    Exact = 2,
}

#[derive(Debug, Clone)]
enum PathCheck {
    Any,
    Prefix(String),
    Exact(String),
    Regex(Regex),
}

/// Precedence key, compared descending; see the crate docs for the rules.
type Key = (i64, HostClass, u8, i64, usize, bool, Reverse<usize>);

impl Router {
    /// Validates and compiles `routes`; routes are identified by their index.
    /// Returns every problem found, not just the first.
    pub fn new(routes: &[RouteSpec]) -> Result<Router, Vec<RouteSpecError>> {
        let mut errors = Vec::new();
        let mut compiled = Vec::with_capacity(routes.len());
        let mut keyed: Vec<(Key, Candidate)> = Vec::new();
        for (route, spec) in routes.iter().enumerate() {
            let mut err = |field, index, message| {
                errors.push(RouteSpecError {
                    route,
                    field,
                    index,
                    message,
                })
            };
            let mut exact_hosts = Vec::new();
            let mut wildcard_hosts = Vec::new();
            for (i, h) in spec.hosts.iter().enumerate() {
                match HostPattern::parse(h) {
                    Ok(p) if p.is_wildcard() => wildcard_hosts.push(p),
                    Ok(p) => exact_hosts.push(p),
                    Err(m) => err("hosts", i, m),
                }
            }
            for (i, m) in spec.methods.iter().enumerate() {
                if let Err(m) = validate_method(m) {
                    err("methods", i, m);
                }
            }
            // (class, regex_priority, length, check) for each path.
            let mut paths = Vec::new();
            for (i, p) in spec.paths.iter().enumerate() {
                match compile_path(p) {
                    Ok(PathCheck::Prefix(s)) => {
                        paths.push((3, 0, 0, PathCheck::Exact(s.clone())));
                        paths.push((1, 0, s.len(), PathCheck::Prefix(s)));
                    }
                    Ok(check) => paths.push((2, spec.regex_priority, p.len() - 1, check)),
                    Err(m) => err("paths", i, m),
                }
            }
            if paths.is_empty() && spec.paths.is_empty() {
                paths.push((0, 0, 0, PathCheck::Any));
            }
            let mut host_classes = Vec::new();
            if !exact_hosts.is_empty() {
                host_classes.push(HostClass::Exact);
            }
            if !wildcard_hosts.is_empty() {
                host_classes.push(HostClass::Wildcard);
            }
            if spec.hosts.is_empty() {
                host_classes.push(HostClass::Any);
            }
            let has_methods = !spec.methods.is_empty();
            for &hosts in &host_classes {
                for (class, regex_priority, len, check) in &paths {
                    let key = (
                        spec.priority,
                        hosts,
                        *class,
                        *regex_priority,
                        *len,
                        has_methods,
                        Reverse(route),
                    );
                    let path = check.clone();
                    keyed.push((key, Candidate { route, hosts, path }));
                }
            }
            compiled.push(CompiledRoute {
                exact_hosts,
                wildcard_hosts,
                methods: spec.methods.clone(),
            });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Stable sort: equal keys (same route) keep the configured path order.
        keyed.sort_by_key(|k| Reverse(k.0));
        Ok(Router {
            routes: compiled,
            candidates: keyed.into_iter().map(|(_, c)| c).collect(),
        })
    }

    /// Finds the most specific route. `host` is the Host header value (a port
    /// in it only matters to patterns that name one); `path` must already be
    /// normalised.
    pub fn find(&self, host: Option<&str>, path: &str, method: &str) -> Option<RouteMatch> {
        let host = host.map(split_request_host);
        self.candidates.iter().find_map(|c| {
            let route = self.routes.get(c.route)?;
            if !route.methods.is_empty() && !route.methods.iter().any(|m| m == method) {
                return None;
            }
            let host_ok = match (c.hosts, host) {
                (HostClass::Any, _) => true,
                (_, None) => false,
                (HostClass::Exact, Some((name, port))) => {
                    route.exact_hosts.iter().any(|h| h.matches(name, port))
                }
                (HostClass::Wildcard, Some((name, port))) => {
                    route.wildcard_hosts.iter().any(|h| h.matches(name, port))
                }
            };
            if !host_ok {
                return None;
            }
            let matched_len = match &c.path {
                PathCheck::Any => 0,
                PathCheck::Exact(p) if path == p => p.len(),
                PathCheck::Prefix(p) if path.starts_with(p.as_str()) => p.len(),
                PathCheck::Regex(r) => r.find(path)?.end(),
                _ => return None,
            };
            Some(RouteMatch {
                route: c.route,
                matched_len,
            })
        })
    }
}

/// One line for a configuration error: the regex crate's syntax errors
/// span several lines (pattern, caret, message) and show our `^(?:` wrapper.
fn regex_error_summary(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or("syntax error")
            .to_string(),
        other => other
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

fn compile_path(p: &str) -> Result<PathCheck, String> {
    if let Some(source) = p.strip_prefix('~') {
        if source.is_empty() {
            return Err("regex path is empty".to_string());
        }
        return match Regex::new(&format!("^(?:{source})")) {
            Ok(r) => Ok(PathCheck::Regex(r)),
            Err(e) => Err(format!("invalid regex: {}", regex_error_summary(&e))),
        };
    }
    if !p.starts_with('/') {
        return Err("path must start with '/' or '~'".to_string());
    }
    if p.contains(['?', '#']) {
        return Err("path must not contain '?' or '#', request paths never do".to_string());
    }
    match normalize_path(p) {
        Ok(n) if n == p => Ok(PathCheck::Prefix(p.to_string())),
        Ok(n) => Err(format!("path is not normalised, use {n}")),
        Err(e) => Err(format!("invalid path: {e}")),
    }
}

/// RFC 9110 token characters; lowercase is refused because methods are
/// case-sensitive and a lowercase entry would silently never match.
fn validate_method(m: &str) -> Result<(), String> {
    if m.is_empty() {
        return Err("method must not be empty".to_string());
    }
    if let Some(c) = m
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(*c)))
    {
        return Err(format!("invalid character {c:?} in method"));
    }
    if m.bytes().any(|b| b.is_ascii_lowercase()) {
        return Err(format!(
            "method must be uppercase, use {}",
            m.to_ascii_uppercase()
        ));
    }
    Ok(())
}

/// Builds the upstream request path like Kong's `path_handling: v0`.
///
/// The remainder is the request path with the matched part removed when
/// `strip_path` is set; it is appended to `service_path` (default `/`),
/// dropping one slash where both sides have one. `matched_len` out of range
/// (a caller bug) strips nothing rather than panicking.
pub fn upstream_path(
    service_path: Option<&str>,
    request_path: &str,
    matched_len: usize,
    strip_path: bool,
) -> String {
    let service = match service_path {
        Some(s) if !s.is_empty() => s,
        _ => "/",
    };
    let remainder = if strip_path {
        request_path.get(matched_len..).unwrap_or(request_path)
    } else {
        request_path
    };
    let mut out = String::with_capacity(service.len() + remainder.len() + 1);
    if !service.starts_with('/') {
        out.push('/');
    }
    out.push_str(service);
    if service.ends_with('/') {
        out.push_str(remainder.strip_prefix('/').unwrap_or(remainder));
    } else {
        out.push_str(remainder);
    }
    out
}

#[cfg(test)]
#[path = "matcher_tests.rs"]
mod tests;
