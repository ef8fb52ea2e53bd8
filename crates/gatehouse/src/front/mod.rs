//! Protocol enforcement, the first stage of every HTTP/1 request.
//!
//! [`Front`] owns each client connection before the proxy does: it reads
//! the raw request head, checks it strictly (`gatehouse_protocol`), answers
//! violations itself in the common error format and closes, and only then
//! lets the proxy parse the request, through a [`guard::Guarded`] stream
//! that ends at the end of the checked body. Pingora's own parser is
//! lenient and answers what it refuses with a bare 400 before any hook
//! runs; here nothing reaches it that it could read differently.

mod guard;

pub use guard::Guarded;

use crate::proxy::Gateway;
use crate::runtime::Runtime;
use crate::waf::{body_inspection, BodyInspection};
use async_trait::async_trait;
use gatehouse_core::{error_body, generate_request_id, ERROR_CONTENT_TYPE, REQUEST_ID_HEADER};
use gatehouse_protocol::{check_request_head, Framing, TargetForm, Violation, INCOMPLETE_HEAD};
use guard::Prefetch;
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ServerApp};
use pingora::protocols::http::ServerSession;
use pingora::protocols::{Stream, ALPN};
use pingora::proxy::HttpProxy;
use pingora::server::ShutdownWatch;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::AsyncWriteExt;
use tokio::time::{timeout_at, Instant as Deadline};

/// Proxy sessions keep the connection alive this long between requests
/// when Pingora decides (the front enforces the configured idle time).
const SESSION_KEEPALIVE_SECS: u64 = 60;

pub struct Front {
    proxy: Arc<HttpProxy<Gateway>>,
    runtime: Arc<Runtime>,
}

impl Front {
    pub fn new(proxy: HttpProxy<Gateway>, runtime: Arc<Runtime>) -> Front {
        Front {
            proxy: Arc::new(proxy),
            runtime,
        }
    }
}

/// What the front decided about the next request on a connection.
enum Next {
    /// Hand it to the proxy.
    Proxy {
        len: usize,
        framing: Framing,
        websocket: bool,
        /// The route's WAF inspects bodies: read this one ahead.
        inspect: Option<BodyInspection>,
        expect_continue: bool,
    },
    /// The front answered it; the connection stays open.
    Answered,
    Close,
}

#[async_trait]
impl ServerApp for Front {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // HTTP/2 has its own framing layer; this front is for HTTP/1.
        if matches!(stream.selected_alpn_proto(), Some(ALPN::H2)) {
            return self.proxy.process_new(stream, shutdown).await;
        }
        let server = &self.runtime.plan.server;
        let max_trailer = server.http_limits.max_header_section;
        let mut conn = Box::new(Guarded::new(stream));
        let mut settings: Option<HttpPersistentSettings> = None;
        let mut first = true;
        loop {
            let next = self.next_request(&mut conn, first, shutdown).await;
            first = false;
            let (len, framing, websocket, inspect, expect_continue) = match next {
                Next::Proxy {
                    len,
                    framing,
                    websocket,
                    inspect,
                    expect_continue,
                } => (len, framing, websocket, inspect, expect_continue),
                Next::Answered => continue,
                Next::Close => return None,
            };
            if let Some(inspect) = inspect {
                let ready = self
                    .read_body_ahead(&mut conn, len, framing, inspect, expect_continue)
                    .await;
                if !ready {
                    return None;
                }
            }
            conn.begin(len, framing, websocket, max_trailer);
            let mut session = ServerSession::new_http1(conn);
            session.set_keepalive(if *shutdown.borrow() {
                None
            } else {
                Some(SESSION_KEEPALIVE_SECS)
            });
            if let Some(s) = settings.take() {
                s.apply_to_session(&mut session);
            }
            let reused = self.proxy.process_new_http(session, shutdown).await?;
            let (stream, next_settings) = reused.consume();
            settings = next_settings;
            conn = stream.into_any().downcast::<Guarded>().ok()?;
            // The proxy stopped before the end of the body as checked:
            // whatever follows cannot be trusted to be a request.
            if !conn.at_boundary() {
                return None;
            }
        }
    }

    async fn cleanup(&self) {
        self.proxy.http_cleanup().await;
    }
}

impl Front {
    /// Reads the next request head and decides what to do with it.
    async fn next_request(
        &self,
        conn: &mut Guarded,
        first: bool,
        shutdown: &ShutdownWatch,
    ) -> Next {
        let server = &self.runtime.plan.server;
        let limits = &server.http_limits;
        // nginx: `client_header_timeout` for the first request,
        // `keepalive_timeout` while idle between requests, and the header
        // timeout again once a request has started arriving.
        let idle = if first {
            server.client_header_timeout
        } else {
            server.keepalive
        };
        let idle_deadline = Deadline::now() + idle;
        let mut head_deadline = None;
        let mut started = Instant::now();
        // Bytes already checked and found to be an incomplete head.
        let mut checked = 0;
        loop {
            if worth_checking(conn.buffered(), checked) {
                match check_request_head(conn.buffered(), limits) {
                    Ok(head) => {
                        let (len, framing, websocket) =
                            (head.len, head.framing, head.upgrade_websocket);
                        if head.upgrade_h2c {
                            // h2c would switch the connection to a
                            // protocol whose requests the gateway never
                            // sees (h2c smuggling).
                            self.refuse(conn, started, &H2C_REFUSED).await;
                            return Next::Close;
                        }
                        if head.target_form == TargetForm::Asterisk {
                            return self.answer_options_asterisk(conn, len, framing).await;
                        }
                        let inspect = match framing {
                            Framing::None => None,
                            _ => body_inspection(&self.runtime, &head),
                        };
                        return Next::Proxy {
                            len,
                            framing,
                            websocket,
                            inspect,
                            expect_continue: head.expect_continue,
                        };
                    }
                    Err(v) if v.is_incomplete() => checked = conn.buffered().len(),
                    Err(v) => {
                        self.refuse(conn, started, &v).await;
                        return Next::Close;
                    }
                }
            }
            let waiting = conn.buffered().is_empty();
            if waiting && *shutdown.borrow() {
                return Next::Close;
            }
            let deadline = if waiting {
                idle_deadline
            } else {
                *head_deadline.get_or_insert_with(|| {
                    started = Instant::now();
                    Deadline::now() + server.client_header_timeout
                })
            };
            let mut stop = shutdown.clone();
            let read = tokio::select! {
                biased;
                r = timeout_at(deadline, conn.read_more()) => r,
                _ = stop.changed(), if waiting => return Next::Close,
            };
            match read {
                Ok(Ok(n)) if n > 0 => {}
                // Closed or failed between requests: nothing to answer.
                Ok(_) if waiting => return Next::Close,
                Err(_) if waiting => return Next::Close,
                Ok(_) => {
                    self.refuse(conn, started, &INCOMPLETE_HEAD).await;
                    return Next::Close;
                }
                Err(_) => {
                    self.refuse(conn, started, &HEAD_TIMEOUT).await;
                    return Next::Close;
                }
            }
        }
    }

    /// Reads the body of a request whose route inspects bodies before the
    /// proxy sees the request, so nothing goes upstream before the WAF
    /// decided. `false`: the front answered (or the client left); close.
    async fn read_body_ahead(
        &self,
        conn: &mut Guarded,
        len: usize,
        framing: Framing,
        inspect: BodyInspection,
        expect_continue: bool,
    ) -> bool {
        let started = Instant::now();
        if expect_continue
            && (conn
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
                || conn.flush().await.is_err())
        {
            return false;
        }
        let server = &self.runtime.plan.server;
        let max_trailer = server.http_limits.max_header_section;
        let read = conn.prefetch(len, framing, inspect.limit, max_trailer);
        match tokio::time::timeout(server.client_header_timeout, read).await {
            Ok(Prefetch::Complete) => true,
            Ok(Prefetch::TooLarge) if !inspect.refuse_larger => true,
            Ok(Prefetch::TooLarge) => {
                self.refuse(conn, started, &BODY_TOO_LARGE).await;
                false
            }
            Ok(Prefetch::Invalid(v)) => {
                self.refuse(conn, started, &v).await;
                false
            }
            Ok(Prefetch::Closed) => false,
            Err(_) => {
                self.refuse(conn, started, &BODY_TIMEOUT).await;
                false
            }
        }
    }

    /// Answers a violation in the common error format and closes.
    async fn refuse(&self, conn: &mut Guarded, started: Instant, v: &Violation) {
        log::debug!("refused request head: {v}");
        let rt = &self.runtime;
        rt.metrics.rejection(v.code);
        let id = generate_request_id();
        let id = std::str::from_utf8(&id).unwrap_or_default();
        let body = error_body(v.message, id);
        let response = response_bytes(
            v.status,
            &[("content-type", ERROR_CONTENT_TYPE)],
            id,
            &body,
            true,
        );
        // Observed before the lingering close, which is not part of the answer.
        rt.route_metrics(None)
            .observe(v.status, started.elapsed().as_secs_f64());
        conn.respond_and_close(&response).await;
    }

    /// `OPTIONS *` asks about the server itself (RFC 9110 9.3.7): the
    /// gateway answers it and no service sees it.
    async fn answer_options_asterisk(
        &self,
        conn: &mut Guarded,
        len: usize,
        framing: Framing,
    ) -> Next {
        let id = generate_request_id();
        let id = std::str::from_utf8(&id).unwrap_or_default();
        let headers = [("allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")];
        // A body on `OPTIONS *` would have to be read and thrown away;
        // closing is simpler and nothing legitimate sends one.
        let keep = framing == Framing::None;
        let response = response_bytes(204, &headers, id, &[], !keep);
        self.runtime.route_metrics(None).observe(204, 0.0);
        if !keep {
            conn.respond_and_close(&response).await;
            return Next::Close;
        }
        conn.discard(len);
        if conn.write_all(&response).await.is_err() {
            return Next::Close;
        }
        Next::Answered
    }
}

/// Whether the head is worth checking again: a line was completed, or a
/// line grew by a lot (so an over-long line is refused early). A client
/// sending its head a byte at a time does not get a rescan per byte.
fn worth_checking(buffered: &[u8], checked: usize) -> bool {
    const RECHECK_BYTES: usize = 1024;
    let fresh = buffered.get(checked..).unwrap_or_default();
    !fresh.is_empty() && (fresh.contains(&b'\n') || fresh.len() >= RECHECK_BYTES)
}

/// Refusals of the front's own: a head that stalled, and h2c.
const BODY_TOO_LARGE: Violation = Violation {
    status: 413,
    code: "request_body_too_large",
    message: "Request body too large",
};
const BODY_TIMEOUT: Violation = Violation {
    status: 408,
    code: "client_body_timeout",
    message: "Request Timeout",
};
const HEAD_TIMEOUT: Violation = Violation {
    status: 408,
    code: "client_header_timeout",
    message: "Request Timeout",
};
const H2C_REFUSED: Violation = Violation {
    status: 400,
    code: "h2c_upgrade_refused",
    message: "Bad Request: h2c upgrade is not allowed",
};

/// A complete HTTP/1.1 response written by the front.
fn response_bytes(
    status: u16,
    headers: &[(&str, &str)],
    request_id: &str,
    body: &[u8],
    close: bool,
) -> Vec<u8> {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if status != 204 {
        out.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    out.push_str(&format!("{REQUEST_ID_HEADER}: {request_id}\r\n"));
    if close {
        out.push_str("connection: close\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_rechecked_per_line_not_per_byte() {
        assert!(!worth_checking(b"", 0));
        assert!(worth_checking(b"GET / HTTP/1.1\r\n", 0));
        assert!(!worth_checking(b"GET / HTTP/1.1\r\nHos", 16));
        assert!(worth_checking(b"GET / HTTP/1.1\r\nHost: a\r\n", 16));
        assert!(worth_checking(&[b'a'; 1024], 0));
        assert!(!worth_checking(&[b'a'; 1024], 1));
    }

    #[test]
    fn front_responses_are_complete_messages() {
        let r = response_bytes(
            400,
            &[("content-type", "application/json")],
            "abc",
            b"{}\n",
            true,
        );
        let text = String::from_utf8(r).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 3\r\nx-request-id: abc\r\nconnection: close\r\n\r\n{}\n"
        );
        let r = response_bytes(204, &[], "abc", b"", false);
        assert!(!String::from_utf8(r).unwrap().contains("content-length"));
    }
}
