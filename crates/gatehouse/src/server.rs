//! Assembling the Pingora server from a plan: the proxy service on the
//! listeners, the admin service, and the background service.

use crate::admin::AdminApp;
use crate::background::Background;
use crate::front::Front;
use crate::proxy::Gateway;
use crate::runtime::Runtime;
use gatehouse_config::Plan;
use gatehouse_metrics::Metrics;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;
use pingora::services::background::background_service;
use pingora::services::listening::Service;
use std::sync::Arc;
use std::time::Duration;

/// Default time the old process keeps serving after a graceful stop
/// starts. Pingora's own default (five minutes) is long for an edge node.
const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(10);

pub fn run(plan: Plan, daemon: bool, upgrade: bool) -> Result<(), String> {
    let metrics = Arc::new(Metrics::new().map_err(|e| format!("metrics: {e}"))?);
    let listeners = plan.listeners.clone();
    let admin = plan.admin;
    let conf = server_conf(&plan);
    let runtime = Arc::new(Runtime::new(plan, metrics));

    let opt = Opt {
        upgrade,
        daemon,
        nocapture: false,
        test: false,
        conf: None,
    };
    let mut server = Server::new_with_opt_and_conf(opt, conf);
    server.bootstrap();

    let gateway = pingora::proxy::http_proxy(&server.configuration, Gateway::new(runtime.clone()));
    let mut proxy = Service::new(
        "gatehouse proxy".to_string(),
        Front::new(gateway, runtime.clone()),
    );
    for addr in &listeners {
        proxy.add_tcp(&addr.to_string());
    }
    let proxy_handle = server.add_service(proxy);

    if let Some(addr) = admin {
        let app = AdminApp {
            runtime: runtime.clone(),
        };
        let mut admin = Service::new("gatehouse admin".to_string(), app);
        admin.add_tcp(&addr.to_string());
        admin.threads = Some(1);
        // `/readyz` must not answer before the proxy listeners are up.
        server.add_service(admin).add_dependency(&proxy_handle);
    }
    server.add_service(background_service(
        "gatehouse background",
        Background { runtime },
    ));
    log::info!(
        "gatehouse listening on {}",
        listeners
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    server.run_forever()
}

fn server_conf(plan: &Plan) -> ServerConf {
    let s = &plan.server;
    let secs = |d: Duration| d.as_secs() + u64::from(d.subsec_nanos() > 0);
    ServerConf {
        threads: s.workers,
        pid_file: s.pid_file.clone(),
        upgrade_sock: s.upgrade_sock.clone(),
        error_log: s.error_log.clone(),
        user: s.user.clone(),
        group: s.group.clone(),
        grace_period_seconds: Some(secs(s.grace_period.unwrap_or(DEFAULT_GRACE_PERIOD))),
        // With one worker there is no thread to steal work from, and
        // Pingora's no-steal runtime (a current-thread tokio runtime per
        // thread) wakes tasks more cheaply than the multi-thread scheduler.
        work_stealing: s.workers > 1,
        // Timeouts of a second or more on tokio's timer wheel instead of
        // Pingora's "fast" timers (10 ms buckets in a locked map, fired by
        // a clock thread). A proxied request arms several (client
        // keepalive, upstream read and write, pool idle), and tokio's
        // measured about 3 % less CPU per request (load-tests/README.md).
        fast_timeout_to_tokio_threshold_seconds: Some(0),
        graceful_shutdown_timeout_seconds: s.graceful_shutdown_timeout.map(secs),
        ..ServerConf::default()
    }
}
