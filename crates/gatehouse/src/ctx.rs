//! Per-request state carried across Pingora's phases.

use crate::runtime::Runtime;
use gatehouse_access::ClientIp;
use gatehouse_auth::Identity;
use gatehouse_config::{Route, Service};
use gatehouse_core::{generate_request_id, Rejection};
use gatehouse_metrics::UpstreamErrorKind;
use gatehouse_router::RouteMatch;
use http::HeaderValue;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

/// The request id, kept as the header value it is sent as: upstream, back
/// to the client and in error responses. Cloning a `HeaderValue` shares
/// its bytes instead of copying a string for every header.
#[derive(Clone, Debug)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// An incoming id, already checked by `is_acceptable_request_id`.
    pub fn new(value: HeaderValue) -> RequestId {
        RequestId(value)
    }

    /// A fresh id (see `gatehouse_core::generate_request_id`).
    pub fn generate() -> RequestId {
        // Hex digits are always a valid header value.
        let value = HeaderValue::from_bytes(&generate_request_id())
            .unwrap_or_else(|_| HeaderValue::from_static("0"));
        RequestId(value)
    }

    /// Generated ids are hex and accepted ones visible ASCII, so the
    /// conversion cannot fail; an empty string would stand in if it did.
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }

    pub fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub struct RequestCtx {
    /// The runtime this request started with; a reload does not change it.
    pub rt: Arc<Runtime>,
    pub start: Instant,
    pub request_id: RequestId,
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
    /// Who the request is from, once the route's `jwt` plugin accepted it;
    /// for the upstream headers, and later the rate limiter and audit log.
    pub identity: Option<Arc<Identity>>,
    /// The WAF transaction, kept for the response and logging phases.
    pub waf: Option<crate::waf::WafState>,
    /// The front read the body ahead (and answered `Expect: 100-continue`).
    pub body_read_ahead: bool,
}

impl RequestCtx {
    pub fn new(rt: Arc<Runtime>) -> RequestCtx {
        RequestCtx {
            rt,
            start: Instant::now(),
            request_id: RequestId::new(HeaderValue::from_static("")),
            client: None,
            matched: None,
            normalized_path: None,
            pending: None,
            tried: Vec::new(),
            upstream_start: None,
            upstream_error: None,
            identity: None,
            waf: None,
            body_read_ahead: false,
        }
    }

    pub fn route(&self) -> Option<(&Route, &Service)> {
        self.rt.plan.route(self.matched?.route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_32_lowercase_hex_digits() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_eq!(a.as_str().len(), 32);
        assert!(a
            .as_str()
            .bytes()
            .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')));
        assert_ne!(a.as_str(), b.as_str());
    }
}
