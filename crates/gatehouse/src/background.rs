//! Work that runs beside request handling: active health checks, JWKS
//! refreshes, and the writer of the WAF's Redis-shared collections.

use crate::runtime::Runtime;
use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::sync::Arc;

pub struct Background {
    pub runtime: Arc<Runtime>,
}

#[async_trait]
impl BackgroundService for Background {
    async fn start(&self, shutdown: ShutdownWatch) {
        // Ends by itself when the plan (and so its store) is dropped.
        if let Some(writer) = self
            .runtime
            .plan
            .waf_redis
            .as_ref()
            .and_then(|s| s.writer())
        {
            tokio::spawn(writer.run());
        }
        for upstream in &self.runtime.plan.upstreams {
            let Some(check) = upstream.active_check.clone() else {
                continue;
            };
            let mut stop = shutdown.clone();
            let task = gatehouse_router::run_active_checks(
                upstream.name.clone(),
                upstream.pool.clone(),
                check,
                async move {
                    let _ = stop.changed().await;
                },
            );
            tokio::spawn(task);
        }
        for jwks in &self.runtime.plan.jwks {
            let mut stop = shutdown.clone();
            tokio::spawn(crate::jwks_fetch::run(jwks.clone(), async move {
                let _ = stop.changed().await;
            }));
        }
    }
}
