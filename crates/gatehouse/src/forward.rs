//! The request as the service receives it: rewritten path, Host, and the
//! forwarding headers. Shared by the proxy path and the `echo` service so
//! echo shows exactly what an upstream would see.

use crate::ctx::RequestCtx;
use crate::inbound::matched_path;
use gatehouse_config::Backend;
use gatehouse_core::REQUEST_ID_HEADER;
use gatehouse_router::upstream_path;
use http::header::HOST;
use http::{HeaderValue, Uri};
use pingora::http::RequestHeader;
use pingora::{Error, ErrorType, Result};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};

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
///
/// This runs for every proxied request, so header values are built
/// without intermediate `String`s: copied from the request, cloned from
/// values built once, or formatted on the stack.
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
            Error::because(
                ErrorType::InternalError,
                "rewritten path is not a valid URI",
                e,
            )
        })?;
        up.set_uri(uri);
    }

    let trusted = ctx.client.is_some_and(|c| c.peer_trusted);
    let original_host = original_host(up)?;
    if let Some(c) = ctx.client {
        let xff = match up.headers.get(XFF).and_then(|v| v.to_str().ok()) {
            Some(prev) if trusted => appended_ip(prev, c.peer)?,
            _ => ip_value(c.peer)?,
        };
        up.insert_header(XFF, xff)?;
        up.insert_header(X_REAL_IP, ip_value(c.ip)?)?;
    }
    if !trusted || !up.headers.contains_key(XF_PROTO) {
        up.insert_header(XF_PROTO, HeaderValue::from_static(listener.scheme))?;
    }
    if !trusted || !up.headers.contains_key(XF_HOST) {
        match original_host {
            Some(h) => up.insert_header(XF_HOST, h)?,
            None => {
                up.remove_header(XF_HOST);
            }
        }
    }
    if !trusted || !up.headers.contains_key(XF_PORT) {
        match listener.port {
            Some(p) => up.insert_header(XF_PORT, HeaderValue::from(p))?,
            None => {
                up.remove_header(XF_PORT);
            }
        }
    }
    if !route.preserve_host {
        if let Backend::Http(b) = &service.backend {
            let host = match ctx.rt.upstream_host(route.service) {
                Some(h) => h.clone(),
                None => HeaderValue::from_str(&b.host_header).map_err(|e| {
                    Error::because(ErrorType::InternalError, "invalid upstream host", e)
                })?,
            };
            up.insert_header(HOST, host)?;
        }
    }
    up.insert_header(REQUEST_ID_HEADER, ctx.request_id.header_value())?;
    Ok(())
}

/// The host the client asked for (see `inbound::request_host`), as a
/// value: the `Host` header is shared with the request, not copied.
fn original_host(req: &RequestHeader) -> Result<Option<HeaderValue>> {
    if let Some(h) = req.headers.get(HOST) {
        if h.to_str().is_ok() {
            return Ok(Some(h.clone()));
        }
    }
    req.uri
        .authority()
        .map(|a| HeaderValue::from_str(a.as_str()).map_err(invalid_value))
        .transpose()
}

/// `ip` as a header value, formatted without the `fmt` machinery for
/// IPv4 (the common case) and without a heap `String` for either family.
fn ip_value(ip: IpAddr) -> Result<HeaderValue> {
    let mut buf = [0u8; IP_TEXT_MAX];
    let len = write_ip(ip, &mut buf);
    HeaderValue::from_bytes(buf.get(..len).unwrap_or_default()).map_err(invalid_value)
}

/// `prev, ip`: a trusted proxy's `X-Forwarded-For` with the peer appended.
fn appended_ip(prev: &str, ip: IpAddr) -> Result<HeaderValue> {
    let mut buf = [0u8; IP_TEXT_MAX];
    let len = write_ip(ip, &mut buf);
    let mut value = Vec::with_capacity(prev.len() + 2 + len);
    value.extend_from_slice(prev.as_bytes());
    value.extend_from_slice(b", ");
    value.extend_from_slice(buf.get(..len).unwrap_or_default());
    HeaderValue::try_from(value).map_err(invalid_value)
}

/// Longest text form of an address (an IPv6 address with an embedded IPv4).
const IP_TEXT_MAX: usize = 45;

/// Writes `ip` as `Display` does and returns the length.
fn write_ip(ip: IpAddr, buf: &mut [u8; IP_TEXT_MAX]) -> usize {
    match ip {
        IpAddr::V4(v4) => write_ipv4(v4, buf),
        IpAddr::V6(v6) => {
            let mut rest = &mut buf[..];
            // 45 bytes hold any IPv6 text form, so this cannot fail.
            let _ = write!(rest, "{v6}");
            let unused = rest.len();
            IP_TEXT_MAX - unused
        }
    }
}

fn write_ipv4(ip: Ipv4Addr, buf: &mut [u8; IP_TEXT_MAX]) -> usize {
    let mut len = 0;
    let mut push = |b: u8| {
        if let Some(slot) = buf.get_mut(len) {
            *slot = b;
            len += 1;
        }
    };
    for (i, octet) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            push(b'.');
        }
        if octet >= 100 {
            push(b'0' + octet / 100);
        }
        if octet >= 10 {
            push(b'0' + octet / 10 % 10);
        }
        push(b'0' + octet % 10);
    }
    len
}

fn invalid_value(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Box<Error> {
    Error::because(
        ErrorType::InvalidHTTPHeader,
        "invalid value while insert",
        e,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn ip_values_match_display() {
        let ips: [IpAddr; 7] = [
            Ipv4Addr::new(0, 0, 0, 0).into(),
            Ipv4Addr::new(127, 0, 0, 1).into(),
            Ipv4Addr::new(10, 99, 100, 255).into(),
            Ipv4Addr::new(255, 255, 255, 255).into(),
            Ipv6Addr::LOCALHOST.into(),
            "2001:db8::8a2e:370:7334".parse().unwrap(),
            "::ffff:255.255.255.255".parse().unwrap(),
        ];
        for ip in ips {
            assert_eq!(ip_value(ip).unwrap(), ip.to_string().as_str());
        }
        let longest: IpAddr = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap();
        assert_eq!(ip_value(longest).unwrap(), longest.to_string().as_str());
    }

    #[test]
    fn appended_ip_keeps_the_previous_chain() {
        let v = appended_ip("203.0.113.7, 10.0.0.1", Ipv4Addr::new(10, 0, 0, 2).into()).unwrap();
        assert_eq!(v, "203.0.113.7, 10.0.0.1, 10.0.0.2");
    }
}
