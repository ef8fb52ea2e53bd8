//! The one task that talks to Redis for writes: connects (and keeps
//! retrying until it can), then applies queued writes in order, a batch
//! per round trip.

use crate::ops::commands;
use crate::store::{Shared, Write};
use crate::{RedisSettings, COLLECTION_TIMEOUT_SECS};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ConnectionAddr, ConnectionInfo, RedisConnectionInfo};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Writes sent in one pipeline at most.
const BATCH: usize = 256;
/// Pause between connection attempts while Redis cannot be reached.
const RETRY: Duration = Duration::from_secs(1);
/// Connecting and writing happen off the request path: they may take
/// longer than a request's read. (A write that times out is not retried,
/// so an increment Redis applied late is never applied twice.)
const MIN_BACKGROUND_TIMEOUT: Duration = Duration::from_secs(1);

pub struct Writer {
    rx: mpsc::Receiver<Write>,
    settings: RedisSettings,
    shared: Arc<Shared>,
}

impl Writer {
    pub(crate) fn new(
        rx: mpsc::Receiver<Write>,
        settings: RedisSettings,
        shared: Arc<Shared>,
    ) -> Writer {
        Writer {
            rx,
            settings,
            shared,
        }
    }

    /// Runs until the store is dropped. Writes queued while Redis cannot
    /// be reached wait (the queue is bounded); a batch Redis refuses or
    /// does not answer in time is dropped and counted.
    pub async fn run(mut self) {
        let mut conn = loop {
            if self.rx.is_closed() {
                return;
            }
            match connect(&self.settings).await {
                Ok(c) => break c,
                Err(e) => {
                    self.shared.failed("connect", &e);
                    tokio::time::sleep(RETRY).await;
                }
            }
        };
        self.shared.set_connection(conn.clone());
        log::info!(
            "waf collections: shared through redis at {}:{} db {}",
            self.settings.host,
            self.settings.port,
            self.settings.database
        );
        let mut batch = Vec::with_capacity(BATCH);
        while self.rx.recv_many(&mut batch, BATCH).await > 0 {
            let mut pipe = redis::pipe();
            for w in &batch {
                for args in commands(&w.key, &w.ops, w.now, COLLECTION_TIMEOUT_SECS) {
                    let mut cmd = redis::Cmd::new();
                    for a in args {
                        cmd.arg(a);
                    }
                    pipe.add_command(cmd).ignore();
                }
            }
            batch.clear();
            let query = pipe.query_async::<()>(&mut conn);
            let limit = self.settings.timeout.max(MIN_BACKGROUND_TIMEOUT);
            match tokio::time::timeout(limit, query).await {
                Ok(Ok(())) => self.shared.succeeded(),
                Ok(Err(e)) => self.shared.failed("write", &e),
                Err(_) => self.shared.failed("write", &"timed out"),
            }
        }
    }
}

async fn connect(s: &RedisSettings) -> redis::RedisResult<ConnectionManager> {
    let info = ConnectionInfo {
        addr: ConnectionAddr::Tcp(s.host.clone(), s.port),
        redis: RedisConnectionInfo {
            db: i64::from(s.database),
            password: s.password.as_ref().map(|p| p.expose().to_string()),
            ..RedisConnectionInfo::default()
        },
    };
    let client = Client::open(info)?;
    // Reads ahead are bounded by the caller with the configured timeout.
    let background = s.timeout.max(MIN_BACKGROUND_TIMEOUT);
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(background)
        .set_response_timeout(background)
        .set_number_of_retries(1)
        .set_max_delay(1000);
    ConnectionManager::new_with_config(client, config).await
}
