//! Keeps JWKS key sets fresh: fetched on start, again every `cache_ttl`,
//! and early (rate-limited by `gatehouse_auth::Jwks`) when tokens name a
//! `kid` the set lacks. A failed fetch keeps the last good set.

use bytes::BytesMut;
use gatehouse_auth::keys::parse_jwks;
use gatehouse_auth::{Jwks, JwksSource};
use http::Uri;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::prelude::HttpPeer;
use pingora::tls::x509::X509;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep, Instant};

/// Bounds one whole fetch (connect, TLS, request, body).
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// A key set larger than this is refused.
const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// How often a waiting fetcher looks for refetch requests.
const POLL: Duration = Duration::from_millis(100);

/// Runs until `stop` resolves.
pub async fn run(jwks: Arc<Jwks>, stop: impl Future<Output = ()>) {
    tokio::pin!(stop);
    let connector = Connector::new(None);
    loop {
        let wait = match load(&jwks, &connector).await {
            Ok(n) => {
                log::info!("jwks {}: {n} keys loaded", describe(&jwks.source));
                jwks.ttl
            }
            Err(e) => {
                log::warn!(
                    "jwks {}: {e}; {}",
                    describe(&jwks.source),
                    if jwks.is_loaded() {
                        "keeping the last key set"
                    } else {
                        "no key set yet, tokens get 503"
                    }
                );
                jwks.min_refetch_interval.min(jwks.ttl)
            }
        };
        let deadline = Instant::now() + wait;
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = sleep(POLL) => {}
            }
            if jwks.take_refetch_request() || Instant::now() >= deadline {
                break;
            }
        }
    }
}

fn describe(source: &JwksSource) -> &str {
    match source {
        JwksSource::File(f) => f,
        JwksSource::Url(u) => u,
    }
}

async fn load(jwks: &Jwks, connector: &Connector) -> Result<usize, String> {
    let bytes = match &jwks.source {
        // Small local files: a blocking read here is shorter than a hop
        // to a blocking thread.
        JwksSource::File(path) => std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?,
        JwksSource::Url(url) => tokio::time::timeout(
            FETCH_TIMEOUT,
            fetch(url, jwks.ca_file.as_deref(), connector),
        )
        .await
        .map_err(|_| "fetch timed out".to_string())??,
    };
    let keys = parse_jwks(&bytes, jwks.fallback_alg).map_err(|e| e.to_string())?;
    if keys.is_empty() {
        return Err("the key set has no usable keys".into());
    }
    Ok(jwks.replace(keys))
}

async fn fetch(url: &str, ca_file: Option<&str>, connector: &Connector) -> Result<Vec<u8>, String> {
    let uri: Uri = url.parse().map_err(|e| format!("bad url: {e}"))?;
    let tls = uri.scheme_str() == Some("https");
    let host = uri.host().ok_or("url has no host")?.to_string();
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    let ca = match ca_file {
        None => None,
        Some(path) => {
            let pem =
                std::fs::read(path).map_err(|e| format!("cannot read ca_file {path}: {e}"))?;
            let certs =
                X509::stack_from_pem(&pem).map_err(|e| format!("bad ca_file {path}: {e}"))?;
            Some(Arc::new(certs.into_boxed_slice()))
        }
    };
    // Every address the name has, in order (`localhost` may be ::1 first).
    let mut last_error = format!("{host} has no address");
    let mut connected = None;
    for addr in addrs {
        let mut peer = HttpPeer::new(addr, tls, host.trim_matches(['[', ']']).to_string());
        peer.options.ca = ca.clone();
        match connector.get_http_session(&peer).await {
            Ok((session, _)) => {
                connected = Some(session);
                break;
            }
            Err(e) => last_error = format!("cannot connect to {addr}: {e}"),
        }
    }
    let mut session = connected.ok_or(last_error)?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut req = RequestHeader::build("GET", path.as_bytes(), None).map_err(|e| e.to_string())?;
    let authority = uri.authority().map_or(host.clone(), |a| a.to_string());
    req.insert_header("host", authority)
        .map_err(|e| e.to_string())?;
    req.insert_header("accept", "application/json")
        .map_err(|e| e.to_string())?;
    session
        .write_request_header(Box::new(req))
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    session
        .finish_request_body()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    session
        .read_response_header()
        .await
        .map_err(|e| format!("no response: {e}"))?;
    let status = session.response_header().map_or(0, |r| r.status.as_u16());
    if status != 200 {
        return Err(format!("answered {status}"));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = session
        .read_response_body()
        .await
        .map_err(|e| format!("body failed: {e}"))?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err("key set larger than 1 MiB".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.to_vec())
}
