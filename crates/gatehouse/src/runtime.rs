//! What a request runs on: the plan and the metric handles bound to it.

use gatehouse_config::Plan;
use gatehouse_metrics::{Metrics, RouteMetrics, NO_ROUTE};
use std::sync::Arc;

/// A compiled plan plus per-route metric handles, shared behind an `Arc`.
/// A request clones the `Arc` once and keeps this runtime to its end.
pub struct Runtime {
    pub plan: Plan,
    pub metrics: Arc<Metrics>,
    /// Parallel to `plan.routes`.
    route_metrics: Vec<RouteMetrics>,
    unmatched: RouteMetrics,
}

impl Runtime {
    pub fn new(plan: Plan, metrics: Arc<Metrics>) -> Runtime {
        let route_metrics = plan.routes.iter().map(|r| metrics.route(&r.name)).collect();
        let unmatched = metrics.route(NO_ROUTE);
        Runtime {
            plan,
            metrics,
            route_metrics,
            unmatched,
        }
    }

    pub fn route_metrics(&self, route: Option<usize>) -> &RouteMetrics {
        route
            .and_then(|r| self.route_metrics.get(r))
            .unwrap_or(&self.unmatched)
    }
}
