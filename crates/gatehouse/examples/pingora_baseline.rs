//! The Pingora floor for the load tests: a proxy with no logic of its own,
//! built from the same Pingora version, features and allocator as
//! gatehouse, so `load-tests/` can tell Pingora's cost from gatehouse's.
//!
//! ```sh
//! cargo build --release -p gatehouse --example pingora_baseline
//! target/release/examples/pingora_baseline 127.0.0.1:8080 127.0.0.1:9000 [THREADS]
//! ```
//!
//! THREADS (else `$PINGORA_THREADS`, else 1) is Pingora's worker thread
//! count, the counterpart of gatehouse's `workers`. Stop it with SIGINT
//! (SIGTERM waits for the graceful shutdown period).
//!
//! It takes the server settings gatehouse takes for speed (no downstream
//! modules, no work stealing with one thread), so gatehouse/pingora
//! measures gatehouse's request logic rather than configuration. It sets
//! no timeouts and adds no headers: that part is gatehouse's cost.

use async_trait::async_trait;
use pingora::modules::http::HttpModules;
use pingora::prelude::HttpPeer;
use pingora::proxy::{ProxyHttp, Session};
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use std::net::SocketAddr;
use std::process::ExitCode;

/// The same allocator as the gatehouse binary (see src/main.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every request goes to one fixed upstream over plain HTTP/1.1.
struct Baseline {
    upstream: SocketAddr,
}

#[async_trait]
impl ProxyHttp for Baseline {
    type CTX = ();

    fn new_ctx(&self) {}

    /// As gatehouse: Pingora's default is a disabled compression module.
    fn init_downstream_modules(&self, _modules: &mut HttpModules) {}

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        _ctx: &mut (),
    ) -> pingora::Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(self.upstream, false, String::new())))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads = args
        .get(2)
        .cloned()
        .or_else(|| std::env::var("PINGORA_THREADS").ok());
    let (Some(listen), Some(upstream)) = (args.first(), args.get(1)) else {
        eprintln!("usage: pingora_baseline LISTEN_ADDR UPSTREAM_ADDR [THREADS]");
        return ExitCode::from(2);
    };
    let Ok(upstream) = upstream.parse::<SocketAddr>() else {
        eprintln!("pingora_baseline: UPSTREAM_ADDR must be ip:port, got {upstream}");
        return ExitCode::from(2);
    };
    let threads = match threads.as_deref().map(str::parse::<usize>) {
        None => 1,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("pingora_baseline: THREADS must be a positive integer");
            return ExitCode::from(2);
        }
    };

    let conf = ServerConf {
        threads,
        // As gatehouse: nothing to steal from with a single thread.
        work_stealing: threads > 1,
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(Opt::default(), conf);
    server.bootstrap();
    let mut proxy =
        pingora::proxy::http_proxy_service(&server.configuration, Baseline { upstream });
    proxy.add_tcp(listen);
    server.add_service(proxy);
    eprintln!("pingora_baseline: {threads} thread(s), {listen} -> {upstream}");
    server.run_forever()
}
