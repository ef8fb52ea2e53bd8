//! The admin listener: Prometheus metrics and health probes. It is a
//! separate Pingora service on its own address (loopback by default), so
//! it is never reachable through a proxy route.
//!
//! `/readyz` answers once the proxy listeners are up (the admin service
//! starts after them). On a graceful stop Pingora closes every listener at
//! once, so load balancers see refused connections rather than a 503.

use crate::runtime::Runtime;
use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::sync::Arc;

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
            (true, "/readyz") => text(StatusCode::OK, "text/plain", b"ready\n".to_vec()),
            (false, "/metrics" | "/healthz" | "/readyz") => text(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain",
                b"method not allowed\n".to_vec(),
            ),
            _ => text(StatusCode::NOT_FOUND, "text/plain", b"not found\n".to_vec()),
        }
    }
}
