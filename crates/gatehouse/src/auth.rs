//! The authentication stage of `request_filter`: adapts Pingora's request
//! to `gatehouse_auth` and turns its decision into the context's identity
//! or a rejection. What the upstream then learns is in `forward`.

use crate::ctx::RequestCtx;
use gatehouse_auth::{JwtPolicy, Outcome, RequestParts};
use gatehouse_core::Rejection;
use pingora::http::RequestHeader;
use std::time::{SystemTime, UNIX_EPOCH};

struct Parts<'a>(&'a RequestHeader);

impl RequestParts for Parts<'_> {
    fn method(&self) -> &str {
        self.0.method.as_str()
    }

    fn query(&self) -> Option<&str> {
        self.0.uri.query()
    }

    fn header_values(&self, name: &str) -> Vec<&[u8]> {
        self.0
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.as_bytes())
            .collect()
    }
}

/// Runs `policy` on the request; `Some` is the refusal to answer with.
pub fn authenticate(
    policy: &JwtPolicy,
    req: &RequestHeader,
    ctx: &mut RequestCtx,
) -> Option<Rejection> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match policy.authenticate(&Parts(req), now) {
        Outcome::Skip => None,
        Outcome::Allow(identity) => {
            ctx.identity = Some(identity);
            None
        }
        Outcome::Deny(e) => {
            let mut r = Rejection::new(e.status, e.code, e.message);
            if let Some(challenge) = e.www_authenticate {
                r = r.with_header("www-authenticate", challenge);
            }
            Some(r)
        }
    }
}
