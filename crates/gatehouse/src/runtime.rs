//! What a request runs on: the plan and the metric handles bound to it.

use gatehouse_config::{Backend, Plan};
use gatehouse_metrics::{Metrics, RouteMetrics, NO_ROUTE};
use http::HeaderValue;
use std::sync::Arc;

/// A compiled plan plus per-route metric handles, shared behind an `Arc`.
/// A request clones the `Arc` once and keeps this runtime to its end.
pub struct Runtime {
    pub plan: Plan,
    pub metrics: Arc<Metrics>,
    /// Parallel to `plan.routes`.
    route_metrics: Vec<RouteMetrics>,
    unmatched: RouteMetrics,
    /// Parallel to `plan.services`: the `Host` value for HTTP backends,
    /// built once rather than per request. `None` for other backends, or
    /// when the host is not a valid header value (forwarding reports it).
    upstream_hosts: Vec<Option<HeaderValue>>,
    /// Some route's WAF reads bodies: the front then looks up the route of
    /// requests with a body to read it ahead.
    pub inspects_bodies: bool,
}

impl Runtime {
    pub fn new(plan: Plan, metrics: Arc<Metrics>) -> Runtime {
        if let Some(store) = &plan.waf_redis {
            let m = metrics.clone();
            store.on_failure(move |op| m.waf_store_error(op));
        }
        let route_metrics = plan.routes.iter().map(|r| metrics.route(&r.name)).collect();
        let unmatched = metrics.route(NO_ROUTE);
        let upstream_hosts = plan
            .services
            .iter()
            .map(|s| match &s.backend {
                Backend::Http(b) => HeaderValue::from_str(&b.host_header).ok(),
                _ => None,
            })
            .collect();
        let inspects_bodies = plan
            .routes
            .iter()
            .any(|r| r.waf.as_ref().is_some_and(|w| w.engine.body_access()));
        Runtime {
            inspects_bodies,
            plan,
            metrics,
            route_metrics,
            unmatched,
            upstream_hosts,
        }
    }

    pub fn upstream_host(&self, service: usize) -> Option<&HeaderValue> {
        self.upstream_hosts.get(service)?.as_ref()
    }

    pub fn route_metrics(&self, route: Option<usize>) -> &RouteMetrics {
        route
            .and_then(|r| self.route_metrics.get(r))
            .unwrap_or(&self.unmatched)
    }
}
