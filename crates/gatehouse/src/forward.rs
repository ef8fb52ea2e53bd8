//! The request as the service receives it: rewritten path, Host, and the
//! forwarding headers. Shared by the proxy path and the `echo` service so
//! echo shows exactly what an upstream would see.

use crate::ctx::RequestCtx;
use crate::inbound::{matched_path, request_host};
use gatehouse_config::Backend;
use gatehouse_core::REQUEST_ID_HEADER;
use gatehouse_router::upstream_path;
use http::header::HOST;
use http::{HeaderValue, Uri};
use pingora::http::RequestHeader;
use pingora::Result;

const XFF: &str = "x-forwarded-for";
const XF_PROTO: &str = "x-forwarded-proto";
const XF_HOST: &str = "x-forwarded-host";
const XF_PORT: &str = "x-forwarded-port";
const X_REAL_IP: &str = "x-real-ip";

/// What the listener knows about the client connection.
#[derive(Debug, Clone, Copy)]
pub struct Listener {
    pub scheme: &'static str,
    pub port: Option<u16>,
}

/// Rewrites `up` (a copy of the client's request header) for the upstream.
pub fn prepare(up: &mut RequestHeader, ctx: &RequestCtx, listener: Listener) -> Result<()> {
    let Some((route, service)) = ctx.route() else {
        return Ok(());
    };
    let matched_len = ctx.matched.map_or(0, |m| m.matched_len);
    let path = matched_path(up, ctx);
    let new_path = upstream_path(service.path.as_deref(), path, matched_len, route.strip_path);
    if new_path != up.uri.path() {
        let target = match up.uri.query() {
            Some(q) => format!("{new_path}?{q}"),
            None => new_path,
        };
        let uri = Uri::try_from(target).map_err(|e| {
            pingora::Error::because(
                pingora::ErrorType::InternalError,
                "rewritten path is not a valid URI",
                e,
            )
        })?;
        up.set_uri(uri);
    }

    let trusted = ctx.client.is_some_and(|c| c.peer_trusted);
    let original_host = request_host(up).map(str::to_string);
    if let Some(c) = ctx.client {
        let peer = c.peer.to_string();
        let xff = match up.headers.get(XFF).and_then(|v| v.to_str().ok()) {
            Some(prev) if trusted => format!("{prev}, {peer}"),
            _ => peer,
        };
        up.insert_header(XFF, xff)?;
        up.insert_header(X_REAL_IP, c.ip.to_string())?;
    }
    if !trusted || !up.headers.contains_key(XF_PROTO) {
        up.insert_header(XF_PROTO, listener.scheme)?;
    }
    if !trusted || !up.headers.contains_key(XF_HOST) {
        match &original_host {
            Some(h) => up.insert_header(XF_HOST, h.as_str())?,
            None => {
                up.remove_header(XF_HOST);
            }
        }
    }
    if !trusted || !up.headers.contains_key(XF_PORT) {
        match listener.port {
            Some(p) => up.insert_header(XF_PORT, p.to_string())?,
            None => {
                up.remove_header(XF_PORT);
            }
        }
    }
    if !route.preserve_host {
        if let Backend::Http(b) = &service.backend {
            up.insert_header(
                HOST,
                HeaderValue::from_str(&b.host_header).map_err(|e| {
                    pingora::Error::because(
                        pingora::ErrorType::InternalError,
                        "invalid upstream host",
                        e,
                    )
                })?,
            )?;
        }
    }
    up.insert_header(REQUEST_ID_HEADER, ctx.request_id.as_str())?;
    Ok(())
}
