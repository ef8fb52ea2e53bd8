//! The request as the service receives it: rewritten path, Host, and the
//! forwarding headers. Shared by the proxy path and the `echo` service so
//! echo shows exactly what an upstream would see.

use crate::ctx::RequestCtx;
use crate::inbound::matched_path;
use gatehouse_auth::policy::CONSUMER_HEADERS;
use gatehouse_auth::{Identity, JwtPolicy};
use gatehouse_config::Backend;
use gatehouse_core::REQUEST_ID_HEADER;
use gatehouse_router::upstream_path;
use http::header::{
    HeaderName, CONNECTION, CONTENT_LENGTH, HOST, PROXY_AUTHORIZATION, TE, TRAILER,
    TRANSFER_ENCODING, UPGRADE,
};
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
///
/// Hop-by-hop fields are already gone on the proxy path (Pingora's standard
/// upstream request policy, which [`strip_hop_by_hop`] mirrors for `echo`);
/// `content_length` is the client's, checked by the front, and restored
/// if a `Connection: Content-Length` option removed it.
pub fn prepare(
    up: &mut RequestHeader,
    ctx: &RequestCtx,
    listener: Listener,
    content_length: Option<&HeaderValue>,
) -> Result<()> {
    let Some((route, service)) = ctx.route() else {
        return Ok(());
    };
    normalize_framing(up, content_length)?;
    // The authority of an absolute-form target wins over Host (RFC 9112
    // 3.2.2); take it before the target is rewritten to origin-form.
    let original_host = original_host(up)?;
    let matched_len = ctx.matched.map_or(0, |m| m.matched_len);
    let path = matched_path(up, ctx);
    let new_path = upstream_path(service.path.as_deref(), path, matched_len, route.strip_path);
    // An absolute-form target (kept raw by the proxy) goes out in
    // origin-form.
    let absolute = up.raw_path().first() != Some(&b'/');
    if new_path != up.uri.path() || absolute {
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
        match &original_host {
            Some(h) => up.insert_header(XF_HOST, h.clone())?,
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
    if route.preserve_host {
        // Only differs from Host for an absolute-form target.
        if let Some(h) = &original_host {
            if up.headers.get(HOST) != Some(h) {
                up.insert_header(HOST, h.clone())?;
            }
        }
    } else {
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
    if let Some(policy) = route.auth.as_deref() {
        identity_headers(up, policy, ctx.identity.as_deref())?;
    }
    Ok(())
}

/// Tells the service who the caller is (Kong's consumer headers, then
/// `claims_to_headers`), after removing any such header the client sent,
/// so none can be forged; drops the token when `forward_token` is off.
fn identity_headers(
    up: &mut RequestHeader,
    policy: &JwtPolicy,
    identity: Option<&Identity>,
) -> Result<()> {
    // One pass to find forgeries; nearly always none, and no allocation.
    let forged: Vec<HeaderName> = up
        .headers
        .keys()
        .filter(|n| is_identity_header(n.as_str(), policy))
        .cloned()
        .collect();
    for name in &forged {
        up.remove_header(name);
    }
    let Some(identity) = identity else {
        return Ok(());
    };
    for (name, value) in &identity.upstream {
        up.append_header(name.clone(), value.clone())?;
    }
    if !policy.forward_token && !identity.anonymous {
        for name in &policy.locations.header_names {
            up.remove_header(name.as_str());
        }
    }
    Ok(())
}

/// A header only the gateway may set on an authenticated route.
fn is_identity_header(name: &str, policy: &JwtPolicy) -> bool {
    CONSUMER_HEADERS.contains(&name)
        || policy.claims_to_headers.iter().any(|(_, h)| h == name)
        || policy.authenticated_header.as_deref() == Some(name)
}

/// The host the client asked for (see `inbound::request_host`), as a
/// value: the `Host` header is shared with the request, not copied.
fn original_host(req: &RequestHeader) -> Result<Option<HeaderValue>> {
    if let Some(a) = req.uri.authority() {
        return HeaderValue::from_str(a.as_str())
            .map(Some)
            .map_err(invalid_value);
    }
    Ok(req
        .headers
        .get(HOST)
        .filter(|h| h.to_str().is_ok())
        .cloned())
}

/// Hop-by-hop fields (RFC 9110 7.6.1, plus the old `Keep-Alive` and
/// `Proxy-Connection`): they describe the client's connection to us, not
/// the request. `Proxy-Authorization` is a credential for this proxy.
const HOP_BY_HOP: [HeaderName; 8] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("http2-settings"),
    TE,
    TRAILER,
    UPGRADE,
    PROXY_AUTHORIZATION,
];

/// What Pingora's standard upstream request policy does before
/// `upstream_request_filter`, for requests that do not go through it
/// (`echo`): removes hop-by-hop fields and the fields named in
/// `Connection` (the front already refused options naming protected
/// fields), keeping a WebSocket handshake's `Upgrade: websocket` with a
/// clean `Connection: Upgrade`.
pub fn strip_hop_by_hop(up: &mut RequestHeader) -> Result<()> {
    let websocket = is_websocket_handshake(up);
    let listed: Vec<HeaderName> = up
        .headers
        .get_all(CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .filter_map(|option| HeaderName::from_bytes(option.trim_ascii()).ok())
        .collect();
    for name in listed.iter().chain(HOP_BY_HOP.iter()) {
        up.remove_header(name);
    }
    if websocket {
        up.insert_header(CONNECTION, HeaderValue::from_static("Upgrade"))?;
        up.insert_header(UPGRADE, HeaderValue::from_static("websocket"))?;
    }
    Ok(())
}

/// A WebSocket opening handshake as Pingora's policy recognises it.
fn is_websocket_handshake(req: &RequestHeader) -> bool {
    req.version == http::Version::HTTP_11
        && req
            .headers
            .get(UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

/// One framing, written one way. A chunked request reaches the service
/// as `Transfer-Encoding: chunked`, written by the proxy; a request with a
/// body length gets exactly the client's (checked) length in canonical
/// form, even when a `Connection` option tried to remove it.
fn normalize_framing(up: &mut RequestHeader, content_length: Option<&HeaderValue>) -> Result<()> {
    if up.headers.contains_key(TRANSFER_ENCODING) {
        if up.headers.get(TRANSFER_ENCODING).map(HeaderValue::as_bytes) != Some(b"chunked") {
            up.insert_header(TRANSFER_ENCODING, HeaderValue::from_static("chunked"))?;
        }
        up.remove_header(&CONTENT_LENGTH);
        return Ok(());
    }
    let Some(cl) = content_length else {
        return Ok(());
    };
    let bytes = cl.as_bytes();
    let canonical =
        matches!(bytes, [b'0'] | [b'1'..=b'9', ..]) && bytes.iter().all(u8::is_ascii_digit);
    if canonical {
        if up.headers.get(CONTENT_LENGTH) != Some(cl) {
            up.insert_header(CONTENT_LENGTH, cl.clone())?;
        }
        return Ok(());
    }
    let n: u64 = std::str::from_utf8(bytes.trim_ascii())
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::explain(ErrorType::InvalidHTTPHeader, "invalid Content-Length"))?;
    up.insert_header(CONTENT_LENGTH, HeaderValue::from(n))
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
