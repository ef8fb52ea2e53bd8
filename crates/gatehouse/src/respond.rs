//! Responses the gateway writes itself: rejections in the common error
//! format, and the built-in `mock` and `echo` services.

use crate::ctx::RequestCtx;
use crate::forward::{self, Listener};
use bytes::Bytes;
use gatehouse_config::MockResponse;
use gatehouse_core::{Rejection, ERROR_CONTENT_TYPE, REQUEST_ID_HEADER};
use http::header::CONTENT_LENGTH;
use http::Method;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::Result;
use serde_json::{json, Map, Value};

/// Largest request body the echo service reads back.
const ECHO_BODY_LIMIT: usize = 1024 * 1024;

/// Writes `rejection` as `{"message": ..., "request_id": ...}`.
pub async fn reject(session: &mut Session, ctx: &RequestCtx, rejection: &Rejection) -> Result<()> {
    ctx.rt.metrics.rejection(rejection.code);
    let body = rejection.body(ctx.request_id.as_str());
    let mut headers: Vec<(&str, &str)> = vec![("content-type", ERROR_CONTENT_TYPE)];
    headers.extend(rejection.headers.iter().map(|(k, v)| (*k, v.as_str())));
    if rejection.close {
        session.set_keepalive(None);
        headers.push(("connection", "close"));
    }
    send(session, ctx, rejection.status, &headers, body).await
}

/// Writes a complete response with the request id attached.
pub async fn send(
    session: &mut Session,
    ctx: &RequestCtx,
    status: u16,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<()> {
    let mut resp = ResponseHeader::build(status, Some(headers.len() + 3))?;
    for (k, v) in headers {
        resp.append_header(k.to_string(), *v)?;
    }
    resp.insert_header("content-length", body.len().to_string())?;
    resp.insert_header(REQUEST_ID_HEADER, ctx.request_id.header_value())?;
    let head = session.req_header().method == Method::HEAD;
    session
        .write_response_header(Box::new(resp), head || body.is_empty())
        .await?;
    if !head && !body.is_empty() {
        session
            .write_response_body(Some(Bytes::from(body)), true)
            .await?;
    }
    Ok(())
}

pub async fn mock(session: &mut Session, ctx: &RequestCtx, mock: &MockResponse) -> Result<()> {
    let headers: Vec<(&str, &str)> = mock
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    send(session, ctx, mock.status, &headers, mock.body.clone()).await
}

/// Answers with the request as the upstream would have received it.
pub async fn echo(session: &mut Session, ctx: &RequestCtx, listener: Listener) -> Result<()> {
    let mut body = Vec::new();
    while let Some(chunk) = session.read_request_body().await? {
        if body.len() + chunk.len() > ECHO_BODY_LIMIT {
            let r = Rejection::new(413, "body_too_large", "Request size limit exceeded").closing();
            return reject(session, ctx, &r).await;
        }
        body.extend_from_slice(&chunk);
    }
    let mut up = session.req_header().clone();
    let content_length = up.headers.get(CONTENT_LENGTH).cloned();
    forward::strip_hop_by_hop(&mut up)?;
    forward::prepare(&mut up, ctx, listener, content_length.as_ref())?;
    let mut headers = Map::new();
    for (name, value) in up.headers.iter() {
        let v = Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned());
        match headers.get_mut(name.as_str()) {
            Some(Value::Array(list)) => list.push(v),
            Some(prev) => *prev = Value::Array(vec![prev.take(), v]),
            None => {
                headers.insert(name.as_str().to_string(), v);
            }
        }
    }
    let (route, service) = ctx
        .route()
        .map_or(("", ""), |(r, s)| (r.name.as_str(), s.name.as_str()));
    let seen = json!({
        "method": up.method.as_str(),
        "path": up.uri.path(),
        "query": up.uri.query(),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
        "client_ip": ctx.client.map(|c| c.ip.to_string()),
        "route": route,
        "service": service,
        "request_id": ctx.request_id.as_str(),
    });
    let mut out = serde_json::to_vec_pretty(&seen).unwrap_or_default();
    out.push(b'\n');
    send(
        session,
        ctx,
        200,
        &[("content-type", "application/json")],
        out,
    )
    .await
}
