//! The first stage of every request: who is the client, which request id,
//! which route. Runs in `early_request_filter`; it decides but never writes.

use crate::ctx::{RequestCtx, RequestId};
use gatehouse_core::{is_acceptable_request_id, Rejection, REQUEST_ID_HEADER};
use gatehouse_router::normalize_path;
use pingora::http::RequestHeader;
use std::borrow::Cow;
use std::net::IpAddr;

/// Fills in client IP, request id and route for `req`.
pub fn identify(req: &RequestHeader, peer: Option<IpAddr>, ctx: &mut RequestCtx) {
    let real_ip = &ctx.rt.plan.real_ip;
    ctx.client = peer.map(|p| {
        let values = req.headers.get_all(real_ip.header().name()).iter();
        real_ip.resolve(p, values.map(|v| v.as_bytes()))
    });
    ctx.request_id = request_id(req, ctx.client.is_some_and(|c| c.peer_trusted));
    match route(req, ctx) {
        Ok(()) => {}
        Err(rejection) => ctx.pending = Some(rejection),
    }
}

/// An incoming `X-Request-Id` is kept only from a trusted proxy and only
/// when it is well-formed; otherwise a fresh one is generated, so a client
/// cannot plant ids (or log-injection payloads) in our logs.
fn request_id(req: &RequestHeader, trusted: bool) -> RequestId {
    if trusted {
        if let Some(v) = req.headers.get(REQUEST_ID_HEADER) {
            if is_acceptable_request_id(v.as_bytes()) {
                return RequestId::new(v.clone());
            }
        }
    }
    RequestId::generate()
}

fn route(req: &RequestHeader, ctx: &mut RequestCtx) -> Result<(), Rejection> {
    let path = normalize_path(req.uri.path())
        .map_err(|_| Rejection::new(400, "bad_path", "Bad request: invalid path"))?;
    let host = request_host(req);
    let found = ctx.rt.plan.router.find(host, &path, req.method.as_str());
    ctx.matched = found;
    if let Cow::Owned(p) = path {
        ctx.normalized_path = Some(p);
    }
    Ok(())
}

/// The host the client asked for: the authority of an absolute-form
/// target, which wins over `Host` (RFC 9112 3.2.2), else the `Host` header.
pub fn request_host(req: &RequestHeader) -> Option<&str> {
    req.uri.authority().map(|a| a.as_str()).or_else(|| {
        req.headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
    })
}

/// The path the router matched on.
pub fn matched_path<'a>(req: &'a RequestHeader, ctx: &'a RequestCtx) -> &'a str {
    ctx.normalized_path
        .as_deref()
        .unwrap_or_else(|| req.uri.path())
}
