//! The WAF stage: adapts the request to `gatehouse_waf`, runs phases 1 and
//! 2 in `request_filter` (the body was read ahead by the front, so nothing
//! reaches the upstream before the decision), phase 3 on the response
//! head, phase 5 when the request is logged.

use crate::ctx::RequestCtx;
use crate::front::Guarded;
use crate::runtime::Runtime;
use gatehouse_config::WafPolicy;
use gatehouse_core::Rejection;
use gatehouse_metrics::Metrics;
use gatehouse_protocol::RequestHead;
use gatehouse_router::normalize_path;
use gatehouse_waf::engine::{Action, Intervention, Transaction};
use gatehouse_waf::parse::EngineMode;
use gatehouse_waf::request::RequestInput;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use std::sync::Arc;

/// How the front reads a body the route's WAF inspects.
#[derive(Debug, Clone, Copy)]
pub struct BodyInspection {
    pub limit: usize,
    /// Block mode: a larger body is refused (413) rather than passed on
    /// uninspected.
    pub refuse_larger: bool,
}

/// Whether the request's route inspects bodies; the front asks before the
/// proxy sees the request. Only requests with a body get here.
pub fn body_inspection(rt: &Runtime, head: &RequestHead<'_>) -> Option<BodyInspection> {
    if !rt.inspects_bodies {
        return None;
    }
    let host = head.host.and_then(|h| std::str::from_utf8(h).ok());
    let target = std::str::from_utf8(head.target).ok()?;
    let path = target_path(target);
    let path = normalize_path(path).ok()?;
    let method = std::str::from_utf8(head.method).ok()?;
    let found = rt.plan.router.find(host, &path, method)?;
    let (route, _) = rt.plan.route(found.route)?;
    let waf = route.waf.as_ref()?;
    waf.engine.body_access().then_some(BodyInspection {
        limit: waf.body_limit,
        refuse_larger: !waf.detect_only,
    })
}

/// The path of an origin- or absolute-form target.
fn target_path(target: &str) -> &str {
    let rest = match target.find("://") {
        Some(i) => {
            let after = &target[i + 3..];
            after.find('/').map_or("/", |j| &after[j..])
        }
        None => target,
    };
    rest.split(['?', '#']).next().unwrap_or("/")
}

/// The transaction of a request whose route has a WAF.
pub struct WafState {
    pub tx: Transaction,
}

fn header_pairs(headers: &http::HeaderMap) -> Vec<(&[u8], &[u8])> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()))
        .collect()
}

fn remote_addr(ctx: &RequestCtx) -> String {
    ctx.client.map(|c| c.ip.to_string()).unwrap_or_default()
}

/// With Redis: the read of the collections this request will open, to
/// await before [`inspect`] (bounded by the Redis timeout; on failure the
/// node's own view is used). `None` without Redis: nothing to wait for.
pub fn prefetch(
    policy: &WafPolicy,
    session: &Session,
    ctx: &RequestCtx,
) -> Option<impl std::future::Future<Output = ()> + Send + 'static> {
    let shared = policy.shared.as_ref()?;
    let req = session.req_header();
    let headers = header_pairs(&req.headers);
    let remote = remote_addr(ctx);
    // Keys come from the client address and headers only.
    let input = RequestInput {
        method: req.method.as_str(),
        uri: req.raw_path(),
        protocol: "",
        headers: &headers,
        remote_addr: &remote,
        remote_port: 0,
        body: None,
    };
    let wanted = shared.ahead.collections_for(&input);
    let store = shared.store.clone();
    Some(async move { store.prefetch(&wanted).await })
}

/// Phases 1 and 2. `Some` is the answer that stops the request.
pub fn inspect(
    policy: &Arc<WafPolicy>,
    session: &Session,
    ctx: &mut RequestCtx,
) -> Option<Rejection> {
    let req = session.req_header();
    let headers = header_pairs(&req.headers);
    let remote = remote_addr(ctx);
    let port = session
        .client_addr()
        .and_then(|a| a.as_inet())
        .map_or(0, |a| a.port());
    let body = session
        .stream()
        .and_then(|s| s.as_any().downcast_ref::<Guarded>())
        .and_then(Guarded::prefetched);
    let protocol = match req.version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    };
    let input = RequestInput {
        method: req.method.as_str(),
        uri: req.raw_path(),
        protocol,
        headers: &headers,
        remote_addr: &remote,
        remote_port: port,
        body,
    };
    ctx.body_read_ahead = body.is_some();
    let mut tx = policy.engine.transaction(&input, ctx.request_id.as_str());
    let decision = tx.request_headers().or_else(|| tx.request_body(body));
    let rejection = decision.map(|i| rejection(&i));
    count(&ctx.rt.metrics, &tx, 0, decision_rule(&tx));
    ctx.waf = Some(WafState { tx });
    rejection
}

fn decision_rule(tx: &Transaction) -> Option<u64> {
    tx.intervention().and_then(|i| i.rule_id)
}

/// Metrics per rule for the matches from `from` on (a phase's); the rule
/// that decided counts as `blocked`.
fn count(metrics: &Metrics, tx: &Transaction, from: usize, blocking: Option<u64>) {
    let detect = tx.mode() == EngineMode::DetectionOnly;
    for m in tx.matches().get(from..).unwrap_or_default() {
        let Some(id) = m.rule_id else {
            continue;
        };
        let action = if Some(id) == blocking {
            "blocked"
        } else if detect && m.disruptive {
            "detected"
        } else {
            "matched"
        };
        metrics.waf_match(id, action);
    }
}

/// The answer for an intervention: the rule's status in the common error
/// format; nothing about the rule reaches the client.
fn rejection(i: &Intervention) -> Rejection {
    let status = i.status;
    let message = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Forbidden");
    let r = Rejection::new(status, "waf_blocked", message);
    match &i.action {
        Action::Redirect(url) => {
            Rejection::new(status, "waf_redirect", "Found").with_header("location", url.clone())
        }
        // A gateway answers and closes rather than resetting silently.
        Action::Drop => r.with_header("connection", "close"),
        Action::Deny => r,
    }
}

/// Phase 3 on the upstream's response head (e.g. counting failed logins).
/// `Some` replaces the response.
pub fn response(ctx: &mut RequestCtx, resp: &ResponseHeader) -> Option<Rejection> {
    let state = ctx.waf.as_mut()?;
    let headers = header_pairs(&resp.headers);
    let before = state.tx.matches().len();
    let decision = state
        .tx
        .response_headers(resp.status.as_u16(), "HTTP/1.1", &headers);
    count(
        &ctx.rt.metrics,
        &state.tx,
        before,
        decision.as_ref().and_then(|d| d.rule_id),
    );
    decision.map(|i| rejection(&i))
}

/// Phase 5, then one log line per request the WAF matched: rule ids,
/// messages and variable names, never the values.
pub fn finish(ctx: &mut RequestCtx) {
    let Some(state) = ctx.waf.as_mut() else {
        return;
    };
    let before = state.tx.matches().len();
    state.tx.logging();
    let tx = &state.tx;
    count(&ctx.rt.metrics, tx, before, None);
    if tx.matches().is_empty() {
        return;
    }
    let rules: Vec<String> = tx
        .matches()
        .iter()
        .map(|m| {
            format!(
                "{}[{}]{}",
                m.rule_id.map_or_else(|| "-".into(), |i| i.to_string()),
                m.variables.join(","),
                m.msg
                    .as_deref()
                    .map(|s| format!(" {s:?}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let outcome = match tx.intervention() {
        Some(i) => format!("blocked by {}", i.rule_id.unwrap_or(0)),
        None if tx.mode() == EngineMode::DetectionOnly => "detect only".into(),
        None => "passed".into(),
    };
    log::warn!(
        "waf: request_id={} {outcome}; rules: {}",
        ctx.request_id,
        rules.join("; ")
    );
}
