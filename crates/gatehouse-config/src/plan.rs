//! The compiled, immutable runtime plan the proxy runs on.
//!
//! Everything expensive (regexes, CIDR sets, resolved addresses, target
//! pools) is built here once; a request only reads it. The binary shares a
//! plan behind an `Arc` and a request keeps the plan it started with.

use gatehouse_access::RealIpResolver;
use gatehouse_auth::{Jwks, JwtPolicy};
use gatehouse_router::{ActiveCheck, Pool, Router};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct Plan {
    pub server: ServerSettings,
    pub listeners: Vec<SocketAddr>,
    /// `None` when the admin listener is disabled.
    pub admin: Option<SocketAddr>,
    pub real_ip: RealIpResolver,
    pub router: Router,
    /// Indexed by the router's route index.
    pub routes: Vec<Route>,
    pub services: Vec<Service>,
    pub upstreams: Vec<Upstream>,
    pub consumers: Vec<Arc<Consumer>>,
    /// Every JWKS key set the plugins use, for the background fetcher.
    pub jwks: Vec<Arc<Jwks>>,
    /// With `gatehouse.redis`: the store the WAF's persistent collections
    /// live in. The binary runs its writer; a new plan brings a new store
    /// (and connection), the old one closes when its last request ends.
    pub waf_redis: Option<Arc<gatehouse_waf_redis::RedisStore>>,
}

/// Process-level settings handed to Pingora's server configuration.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub workers: usize,
    pub pid_file: String,
    pub upgrade_sock: String,
    pub error_log: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub grace_period: Option<Duration>,
    pub graceful_shutdown_timeout: Option<Duration>,
    /// Client keep-alive idle timeout.
    pub keepalive: Duration,
    /// How long a client may take to send a request head once it started
    /// (nginx `client_header_timeout`).
    pub client_header_timeout: Duration,
    /// Request head limits for the protocol checks.
    pub http_limits: gatehouse_protocol::Limits,
}

pub struct Route {
    pub name: String,
    pub service: usize,
    pub strip_path: bool,
    pub preserve_host: bool,
    pub protocols: Protocols,
    /// The `jwt` plugin that applies: the route's, else its service's,
    /// else a global one.
    pub auth: Option<Arc<JwtPolicy>>,
    /// The `waf` plugin that applies, chosen the same way.
    pub waf: Option<Arc<crate::WafPolicy>>,
}

/// Which client protocols a route accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protocols {
    pub http: bool,
    pub https: bool,
}

pub struct Service {
    pub name: String,
    pub backend: Backend,
    /// Kong's service path, prefixed to what the route forwards.
    pub path: Option<String>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    /// Further attempts after a failed connection, as Kong's `retries`.
    pub retries: u32,
}

pub enum Backend {
    Http(HttpBackend),
    /// Answers itself with a fixed response.
    Mock(MockResponse),
    /// Answers with the request it would have forwarded, as JSON.
    Echo,
}

pub struct HttpBackend {
    pub tls: bool,
    /// Host header sent upstream unless the route preserves the client's.
    pub host_header: String,
    /// TLS server name for `https` services.
    pub sni: String,
    pub pool: Arc<Pool>,
    /// Index into `Plan::upstreams` when the service targets an upstream.
    pub upstream: Option<usize>,
}

pub struct MockResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub struct Upstream {
    pub name: String,
    pub pool: Arc<Pool>,
    pub active_check: Option<ActiveCheck>,
}

pub use gatehouse_auth::Consumer;

impl Plan {
    pub fn route(&self, index: usize) -> Option<(&Route, &Service)> {
        let route = self.routes.get(index)?;
        let service = self.services.get(route.service)?;
        Some((route, service))
    }
}
