//! Per-request state carried across Pingora's phases.

use crate::runtime::Runtime;
use gatehouse_access::ClientIp;
use gatehouse_config::{Route, Service};
use gatehouse_core::Rejection;
use gatehouse_metrics::UpstreamErrorKind;
use gatehouse_router::RouteMatch;
use std::sync::Arc;
use std::time::Instant;

pub struct RequestCtx {
    /// The runtime this request started with; a reload does not change it.
    pub rt: Arc<Runtime>,
    pub start: Instant,
    pub request_id: String,
    pub client: Option<ClientIp>,
    pub matched: Option<RouteMatch>,
    /// The normalised path, when it differs from the one received.
    pub normalized_path: Option<String>,
    /// A decision made before `request_filter` that it must answer.
    pub pending: Option<Rejection>,
    /// Targets tried so far, so a retry goes elsewhere first.
    pub tried: Vec<usize>,
    pub upstream_start: Option<Instant>,
    /// The last upstream failure, for metrics and the error message.
    pub upstream_error: Option<UpstreamErrorKind>,
}

impl RequestCtx {
    pub fn new(rt: Arc<Runtime>) -> RequestCtx {
        RequestCtx {
            rt,
            start: Instant::now(),
            request_id: String::new(),
            client: None,
            matched: None,
            normalized_path: None,
            pending: None,
            tried: Vec::new(),
            upstream_start: None,
            upstream_error: None,
        }
    }

    pub fn route(&self) -> Option<(&Route, &Service)> {
        self.rt.plan.route(self.matched?.route)
    }
}
