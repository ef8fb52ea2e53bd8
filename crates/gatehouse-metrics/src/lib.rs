//! Prometheus metric families of the gateway.
//!
//! Families live in their own registry (not the process-global default one)
//! so a test or a second server in one process gets clean counters. Labels
//! are resolved once per route when a plan is built ([`RouteMetrics`]), so
//! the request path only increments pre-bound atomics.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Label value for requests that matched no route. Route names cannot
/// contain parentheses, so it cannot collide with a configured route.
pub const NO_ROUTE: &str = "(none)";

/// Latency buckets in seconds: sub-millisecond resolution for a proxy hop,
/// up to the 60 s default upstream timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// All metric families of one gateway process.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    upstream_duration: HistogramVec,
    upstream_errors: IntCounterVec,
    rejections: IntCounterVec,
    target_health: IntGaugeVec,
    waf_matches: IntCounterVec,
    waf_store_errors: IntCounterVec,
}

/// Why an upstream attempt failed, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamErrorKind {
    ConnectRefused,
    ConnectTimeout,
    ConnectError,
    ReadTimeout,
    WriteTimeout,
    NoHealthyTarget,
    BadResponse,
    Other,
}

impl UpstreamErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamErrorKind::ConnectRefused => "connect_refused",
            UpstreamErrorKind::ConnectTimeout => "connect_timeout",
            UpstreamErrorKind::ConnectError => "connect_error",
            UpstreamErrorKind::ReadTimeout => "read_timeout",
            UpstreamErrorKind::WriteTimeout => "write_timeout",
            UpstreamErrorKind::NoHealthyTarget => "no_healthy_target",
            UpstreamErrorKind::BadResponse => "bad_response",
            UpstreamErrorKind::Other => "other",
        }
    }
}

/// Counters and histograms bound to one route's label values.
#[derive(Clone)]
pub struct RouteMetrics {
    by_class: [IntCounter; 5],
    duration: Histogram,
    upstream_duration: Histogram,
}

impl RouteMetrics {
    /// Records one finished request. `status` 0 (no response written)
    /// counts as a 5xx: the client got nothing useful.
    pub fn observe(&self, status: u16, seconds: f64) {
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            _ => 4,
        };
        self.by_class[class].inc();
        self.duration.observe(seconds);
    }

    /// Time from choosing a target to its response header.
    pub fn observe_upstream(&self, seconds: f64) {
        self.upstream_duration.observe(seconds);
    }
}

impl Metrics {
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "gatehouse_http_requests_total",
                "Requests answered, by route and status class.",
            ),
            &["route", "status_class"],
        )?;
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "gatehouse_http_request_duration_seconds",
                "Time from request header to the end of the response, by route.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )?;
        let upstream_duration = HistogramVec::new(
            HistogramOpts::new(
                "gatehouse_upstream_response_seconds",
                "Time from picking an upstream target to its response header, by route.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )?;
        let upstream_errors = IntCounterVec::new(
            Opts::new(
                "gatehouse_upstream_errors_total",
                "Failed upstream attempts (including retried ones), by service and kind.",
            ),
            &["service", "kind"],
        )?;
        let rejections = IntCounterVec::new(
            Opts::new(
                "gatehouse_rejections_total",
                "Requests the gateway answered itself with an error, by reason.",
            ),
            &["reason"],
        )?;
        let target_health = IntGaugeVec::new(
            Opts::new(
                "gatehouse_upstream_target_healthy",
                "1 when the target is healthy, 0 when active checks took it out.",
            ),
            &["upstream", "target"],
        )?;
        let waf_matches = IntCounterVec::new(
            Opts::new(
                "gatehouse_waf_rule_matches_total",
                "WAF rules that matched, by rule id and what followed (blocked, detected, logged).",
            ),
            &["rule", "action"],
        )?;
        let waf_store_errors = IntCounterVec::new(
            Opts::new(
                "gatehouse_waf_store_errors_total",
                "Failed Redis operations of the WAF's shared collections (the node went on with its own view), by operation.",
            ),
            &["op"],
        )?;
        registry.register(Box::new(waf_matches.clone()))?;
        registry.register(Box::new(waf_store_errors.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_duration.clone()))?;
        registry.register(Box::new(upstream_duration.clone()))?;
        registry.register(Box::new(upstream_errors.clone()))?;
        registry.register(Box::new(rejections.clone()))?;
        registry.register(Box::new(target_health.clone()))?;
        Ok(Metrics {
            registry,
            requests,
            request_duration,
            upstream_duration,
            upstream_errors,
            rejections,
            target_health,
            waf_matches,
            waf_store_errors,
        })
    }

    /// Binds the per-route families to `route`'s label values.
    pub fn route(&self, route: &str) -> RouteMetrics {
        let class = |c: &str| self.requests.with_label_values(&[route, c]);
        RouteMetrics {
            by_class: [
                class("1xx"),
                class("2xx"),
                class("3xx"),
                class("4xx"),
                class("5xx"),
            ],
            duration: self.request_duration.with_label_values(&[route]),
            upstream_duration: self.upstream_duration.with_label_values(&[route]),
        }
    }

    pub fn upstream_error(&self, service: &str, kind: UpstreamErrorKind) {
        self.upstream_errors
            .with_label_values(&[service, kind.as_str()])
            .inc();
    }

    pub fn rejection(&self, reason: &str) {
        self.rejections.with_label_values(&[reason]).inc();
    }

    /// A WAF rule matched: `action` is `blocked` for the rule that stopped
    /// the request, `detected` for one that would have in detect mode,
    /// `matched` otherwise. Rule ids come from loaded rules, so the label
    /// set is bounded by the configuration.
    pub fn waf_match(&self, rule: u64, action: &str) {
        self.waf_matches
            .with_label_values(&[&rule.to_string(), action])
            .inc();
    }

    /// A Redis operation of the WAF's shared collections failed: `op` is
    /// `connect`, `prefetch`, `write` or `queue` (a fixed set).
    pub fn waf_store_error(&self, op: &str) {
        self.waf_store_errors.with_label_values(&[op]).inc();
    }

    pub fn set_target_health(&self, upstream: &str, target: &str, healthy: bool) {
        self.target_health
            .with_label_values(&[upstream, target])
            .set(i64::from(healthy));
    }

    /// The Prometheus text exposition of every family.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 * 1024);
        // Encoding into a Vec only fails on invalid metric names, which are
        // static here; an empty body is the safe fallback.
        if TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .is_err()
        {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(m: &Metrics) -> String {
        String::from_utf8(m.render()).unwrap()
    }

    #[test]
    fn route_counters_by_status_class() {
        let m = Metrics::new().unwrap();
        let r = m.route("users");
        r.observe(200, 0.001);
        r.observe(204, 0.001);
        r.observe(404, 0.002);
        r.observe(0, 0.002);
        let t = text(&m);
        assert!(
            t.contains(r#"gatehouse_http_requests_total{route="users",status_class="2xx"} 2"#),
            "{t}"
        );
        assert!(t.contains(r#"gatehouse_http_requests_total{route="users",status_class="4xx"} 1"#));
        assert!(t.contains(r#"gatehouse_http_requests_total{route="users",status_class="5xx"} 1"#));
        assert!(t.contains(r#"gatehouse_http_request_duration_seconds_count{route="users"} 4"#));
    }

    #[test]
    fn upstream_errors_rejections_and_health() {
        let m = Metrics::new().unwrap();
        m.upstream_error("api", UpstreamErrorKind::ConnectRefused);
        m.upstream_error("api", UpstreamErrorKind::ConnectRefused);
        m.rejection("route_not_found");
        m.set_target_health("pool", "10.0.0.1:80", false);
        m.route(NO_ROUTE).observe_upstream(0.5);
        let t = text(&m);
        assert!(
            t.contains(
                r#"gatehouse_upstream_errors_total{kind="connect_refused",service="api"} 2"#
            ),
            "{t}"
        );
        assert!(t.contains(r#"gatehouse_rejections_total{reason="route_not_found"} 1"#));
        assert!(t.contains(
            r#"gatehouse_upstream_target_healthy{target="10.0.0.1:80",upstream="pool"} 0"#
        ));
        assert!(t.contains(r#"gatehouse_upstream_response_seconds_count{route="(none)"} 1"#));
    }

    #[test]
    fn registries_are_independent() {
        let a = Metrics::new().unwrap();
        let b = Metrics::new().unwrap();
        a.rejection("x");
        assert!(!text(&b).contains(r#"reason="x""#));
    }
}
