//! The admin listener: Prometheus metrics and health probes. It is a
//! separate Pingora service on its own address (loopback by default), so
//! it is never reachable through a proxy route.
//!
//! `/readyz` answers 200 once every proxy listener accepts connections
//! (Pingora starts the admin service with the proxy's, but a proxy bind
//! may still be retrying while the address is in use). On a graceful stop Pingora closes every listener at
//! once, so load balancers see refused connections rather than a 503.

use crate::runtime::Runtime;
use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

pub struct AdminApp {
    pub runtime: Arc<Runtime>,
}

impl AdminApp {
    fn metrics(&self) -> Vec<u8> {
        let rt = &self.runtime;
        for upstream in &rt.plan.upstreams {
            for target in upstream.pool.targets() {
                let label = format!("{} ({})", target.host, target.addr);
                rt.metrics
                    .set_target_health(&upstream.name, &label, target.is_healthy());
            }
        }
        rt.metrics.render()
    }
}

impl AdminApp {
    /// Connects to each proxy listener (a wildcard address through
    /// loopback); the probe connection closes without sending a byte.
    async fn listeners_accept(&self) -> bool {
        for addr in &self.runtime.plan.listeners {
            let mut probe = *addr;
            if probe.ip().is_unspecified() {
                probe.set_ip(match probe.ip() {
                    IpAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
                    IpAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
                });
            }
            let connect = tokio::net::TcpStream::connect(probe);
            if !matches!(
                tokio::time::timeout(PROBE_TIMEOUT, connect).await,
                Ok(Ok(_))
            ) {
                return false;
            }
        }
        true
    }
}

/// How long a readiness probe waits for a proxy listener.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

fn text(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    let len = resp.body().len();
    resp.headers_mut()
        .insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    resp
}

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let get = session.req_header().method == http::Method::GET;
        match (get, session.req_header().uri.path()) {
            (true, "/metrics") => text(StatusCode::OK, "text/plain; version=0.0.4", self.metrics()),
            (true, "/healthz") => text(StatusCode::OK, "text/plain", b"ok\n".to_vec()),
            (true, "/readyz") if self.listeners_accept().await => {
                text(StatusCode::OK, "text/plain", b"ready\n".to_vec())
            }
            (true, "/readyz") => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                b"not ready\n".to_vec(),
            ),
            (false, "/metrics" | "/healthz" | "/readyz") => text(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                b"method not allowed\n".to_vec(),
            ),
            _ => text(StatusCode::NOT_FOUND, "text/plain", b"not found\n".to_vec()),
        }
    }
}
