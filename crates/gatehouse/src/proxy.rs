//! The Pingora `ProxyHttp` implementation. Each phase hook only adapts the
//! session and calls the stage that owns the logic (see DESIGN's phase map).

use crate::auth;
use crate::ctx::RequestCtx;
use crate::failure;
use crate::forward::{self, Listener};
use crate::inbound;
use crate::protocol;
use crate::respond;
use crate::runtime::Runtime;
use crate::waf;
use async_trait::async_trait;
use gatehouse_config::Backend;
use gatehouse_core::{Rejection, REQUEST_ID_HEADER};
use gatehouse_metrics::UpstreamErrorKind;
use http::header::CONTENT_LENGTH;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::modules::http::HttpModules;
use pingora::prelude::HttpPeer;
use pingora::proxy::{FailToProxy, ProxyHttp, Session};
use pingora::{Error, ErrorType, Result};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long an idle upstream connection is kept for reuse.
const UPSTREAM_IDLE: Duration = Duration::from_secs(60);

pub struct Gateway {
    runtime: Arc<Runtime>,
}

impl Gateway {
    pub fn new(runtime: Arc<Runtime>) -> Gateway {
        Gateway { runtime }
    }
}

fn listener(session: &Session) -> Listener {
    Listener {
        scheme: "http",
        port: session
            .server_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.port()),
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::new(self.runtime.clone())
    }

    /// No downstream modules. Pingora's default is a response compression
    /// module at level 0: it never compresses (gatehouse does not enable
    /// it per request) but still costs a module context and boxed filter
    /// calls on every request.
    fn init_downstream_modules(&self, _modules: &mut HttpModules) {}

    async fn early_request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        // Keep-alive is Pingora's per-request decision (HTTP/1.0, `close`);
        // the idle time between requests is enforced by the front.
        let peer = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        inbound::identify(session.req_header(), peer, ctx);
        Ok(())
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut RequestCtx) -> Result<bool> {
        if let Some(rejection) = ctx.pending.take() {
            respond::reject(session, ctx, &rejection).await?;
            return Ok(true);
        }
        let Some((route, _)) = ctx.route() else {
            let r = Rejection::new(404, "route_not_found", "no Route matched with those values");
            respond::reject(session, ctx, &r).await?;
            return Ok(true);
        };
        if !route.protocols.http {
            let r = Rejection::new(426, "https_required", "Please use HTTPS protocol")
                .with_header("upgrade", "TLS/1.2, HTTP/1.1")
                .with_header("connection", "Upgrade");
            respond::reject(session, ctx, &r).await?;
            return Ok(true);
        }
        let waf_policy = route.waf.clone();
        if let Some(policy) = route.auth.clone() {
            if let Some(r) = auth::authenticate(&policy, session.req_header(), ctx) {
                respond::reject(session, ctx, &r).await?;
                return Ok(true);
            }
        }
        if let Some(policy) = waf_policy {
            if let Some(read) = waf::prefetch(&policy, session, ctx) {
                read.await;
            }
            if let Some(r) = waf::inspect(&policy, session, ctx) {
                respond::reject(session, ctx, &r).await?;
                return Ok(true);
            }
        }
        let Some((_, service)) = ctx.route() else {
            return Ok(false);
        };
        match &service.backend {
            Backend::Http(_) => Ok(false),
            Backend::Mock(mock) => respond::mock(session, ctx, mock).await.map(|()| true),
            Backend::Echo => respond::echo(session, ctx, listener(session))
                .await
                .map(|()| true),
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> Result<Box<HttpPeer>> {
        let Some((_, service)) = ctx.route() else {
            return Err(Error::explain(
                ErrorType::InternalError,
                "no route at upstream_peer",
            ));
        };
        let Backend::Http(backend) = &service.backend else {
            return Err(Error::explain(
                ErrorType::InternalError,
                "not an HTTP service",
            ));
        };
        // Prefer targets not tried yet; once all were tried, any healthy one.
        let pick = backend
            .pool
            .pick(&ctx.tried)
            .or_else(|| backend.pool.pick(&[]));
        let Some(index) = pick else {
            return Err(Error::explain(
                ErrorType::HTTPStatus(503),
                "no healthy upstream target",
            ));
        };
        let target = &backend.pool.targets()[index];
        let mut peer = HttpPeer::new(target.addr, backend.tls, backend.sni.clone());
        peer.options.connection_timeout = Some(service.connect_timeout);
        peer.options.read_timeout = Some(service.read_timeout);
        peer.options.write_timeout = Some(service.write_timeout);
        peer.options.idle_timeout = Some(UPSTREAM_IDLE);
        ctx.tried.push(index);
        ctx.upstream_start.get_or_insert_with(Instant::now);
        Ok(Box::new(peer))
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        let (_, kind) = failure::classify(&e);
        if let Some((_, service)) = ctx.route() {
            let kind = kind.unwrap_or(UpstreamErrorKind::ConnectError);
            ctx.rt.metrics.upstream_error(&service.name, kind);
            // Kong's `retries`: further attempts after the first one.
            let attempts = u32::try_from(ctx.tried.len()).unwrap_or(u32::MAX);
            e.set_retry(attempts <= service.retries);
        }
        ctx.upstream_error = kind;
        e
    }

    async fn upstream_request_filter(
        &self,
        session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        let content_length = session.req_header().headers.get(CONTENT_LENGTH);
        if ctx.body_read_ahead {
            // The client got its 100 Continue from the front and the body
            // is here: the service must not answer a second one.
            upstream_request.remove_header(&http::header::EXPECT);
        }
        forward::prepare(upstream_request, ctx, listener(session), content_length)
    }

    async fn upstream_response_filter(
        &self,
        session: &mut Session,
        upstream_response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        protocol::check_response(&session.req_header().method, upstream_response)?;
        if let Some(start) = ctx.upstream_start {
            let route = ctx.matched.map(|m| m.route);
            ctx.rt
                .route_metrics(route)
                .observe_upstream(start.elapsed().as_secs_f64());
        }
        Ok(())
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> Result<()> {
        if let Some(r) = waf::response(ctx, response) {
            return Err(Error::explain(
                ErrorType::HTTPStatus(r.status),
                "refused by a WAF response rule",
            ));
        }
        response.insert_header(REQUEST_ID_HEADER, ctx.request_id.header_value())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let (rejection, kind) = failure::classify(e);
        // Connect failures were counted per attempt in `fail_to_connect`.
        let counted = ctx.upstream_error.is_some() && kind == ctx.upstream_error;
        if let (Some(kind), Some((_, service)), false) = (kind, ctx.route(), counted) {
            ctx.rt.metrics.upstream_error(&service.name, kind);
        }
        let mut error_code = 0;
        if let Some(r) = rejection {
            error_code = r.status;
            if session.response_written().is_none() {
                if let Err(write_error) = respond::reject(session, ctx, &r).await {
                    log::debug!("could not write error response: {write_error}");
                }
            }
        }
        FailToProxy {
            error_code,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        waf::finish(ctx);
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let route = ctx.matched.map(|m| m.route);
        ctx.rt
            .route_metrics(route)
            .observe(status, ctx.start.elapsed().as_secs_f64());
    }

    fn request_summary(&self, session: &Session, ctx: &RequestCtx) -> String {
        // Pingora's default summary includes the full URI; keep the query
        // out of error logs (tokens travel there) and add the request id.
        let req = session.req_header();
        format!(
            "{} {} request_id={}",
            req.method,
            req.uri.path(),
            ctx.request_id
        )
    }
}
