//! The store the engine sees: a local mirror answering at once, Redis
//! read ahead by [`RedisStore::prefetch`] and written behind by the
//! [`Writer`].

use crate::ops::{collection_from, diff, integer, Op};
use crate::writer::Writer;
use crate::{RedisSettings, COLLECTION_TIMEOUT_SECS};
use gatehouse_waf::collection::{Collection, MemoryStore, PersistentStore};
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Collections kept in the mirror at most (as the memory-only store).
const MIRROR_KEYS: usize = 100_000;
/// Writes waiting for Redis at most; past that a change stays local.
const QUEUE: usize = 10_000;
/// At most one warning per kind of failure this often.
const WARN_EVERY_SECS: u64 = 10;

/// One `update`'s worth of operations on one Redis hash.
#[derive(Debug)]
pub(crate) struct Write {
    pub key: String,
    pub ops: Vec<Op>,
    pub now: u64,
}

type FailureHook = Box<dyn Fn(&'static str) + Send + Sync>;

/// What the store and its writer share: the connection once it is up,
/// and failure accounting.
#[derive(Default)]
pub(crate) struct Shared {
    connection: RwLock<Option<ConnectionManager>>,
    on_failure: OnceLock<FailureHook>,
    /// Unix seconds of the last warning logged, and whether Redis is
    /// failing (to say when it is back).
    last_warning: AtomicU64,
    failing: AtomicBool,
}

impl Shared {
    pub(crate) fn connection(&self) -> Option<ConnectionManager> {
        self.connection
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_connection(&self, c: ConnectionManager) {
        *self
            .connection
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(c);
    }

    /// Counts a failure of `op` (`connect`, `prefetch`, `write`, `queue`)
    /// and logs it, rate-limited. `why` must hold no secret: Redis errors
    /// never carry the password.
    pub(crate) fn failed(&self, op: &'static str, why: &dyn std::fmt::Display) {
        if let Some(hook) = self.on_failure.get() {
            hook(op);
        }
        self.failing.store(true, Ordering::Relaxed);
        let now = unix_now();
        let last = self.last_warning.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= WARN_EVERY_SECS
            && self
                .last_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            log::warn!(
                "waf collections: redis {op} failed ({why}); using this node's view \
                 (further failures for {WARN_EVERY_SECS}s are only counted)"
            );
        }
    }

    pub(crate) fn succeeded(&self) {
        if self.failing.swap(false, Ordering::Relaxed) {
            log::info!("waf collections: redis answers again");
        }
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Persistent collections in Redis, served from a local mirror.
pub struct RedisStore {
    settings: RedisSettings,
    mirror: MemoryStore,
    queue: mpsc::Sender<Write>,
    /// Taken once, by whoever runs the writer.
    writer: Mutex<Option<Writer>>,
    shared: Arc<Shared>,
}

impl RedisStore {
    /// Builds the store; nothing connects until [`RedisStore::writer`]'s
    /// task runs. Until then (and whenever Redis fails) the store is the
    /// mirror alone.
    pub fn new(settings: RedisSettings) -> RedisStore {
        let (queue, rx) = mpsc::channel(QUEUE);
        let shared = Arc::new(Shared::default());
        let writer = Writer::new(rx, settings.clone(), shared.clone());
        RedisStore {
            settings,
            mirror: MemoryStore::new(COLLECTION_TIMEOUT_SECS, MIRROR_KEYS),
            queue,
            writer: Mutex::new(Some(writer)),
            shared,
        }
    }

    pub fn settings(&self) -> &RedisSettings {
        &self.settings
    }

    /// The background task that connects and applies writes; `None` after
    /// the first call. It ends when the store is dropped (a new plan
    /// brings its own store and connection).
    pub fn writer(&self) -> Option<Writer> {
        self.writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Called with the operation's name on every Redis failure (metrics).
    pub fn on_failure(&self, hook: impl Fn(&'static str) + Send + Sync + 'static) {
        let _ = self.shared.on_failure.set(Box::new(hook));
    }

    /// Whether the writer is connected (prefetch reads only then).
    pub fn connected(&self) -> bool {
        self.shared.connection().is_some()
    }

    fn key(&self, name: &str, key: &str) -> String {
        format!(
            "{}{}:{key}",
            self.settings.prefix,
            name.to_ascii_lowercase()
        )
    }

    /// Copies the `(collection, key)` pairs from Redis into the mirror, in
    /// one round trip bounded by the timeout. On failure (or before the
    /// first connection) the mirror keeps what this node knows.
    pub async fn prefetch(&self, wanted: &[(String, String)]) {
        if wanted.is_empty() {
            return;
        }
        let Some(mut conn) = self.shared.connection() else {
            return;
        };
        let mut pipe = redis::pipe();
        for (name, key) in wanted {
            pipe.cmd("HGETALL").arg(self.key(name, key));
        }
        let query = pipe.query_async::<Vec<HashMap<Vec<u8>, Vec<u8>>>>(&mut conn);
        let hashes = match tokio::time::timeout(self.settings.timeout, query).await {
            Ok(Ok(h)) => h,
            Ok(Err(e)) => return self.shared.failed("prefetch", &e),
            Err(_) => return self.shared.failed("prefetch", &"timed out"),
        };
        self.shared.succeeded();
        let now = unix_now();
        for ((name, key), fields) in wanted.iter().zip(hashes) {
            let mut fresh = Some(collection_from(&fields, now));
            self.mirror.update(name, key, now, &mut |c| {
                if let Some(f) = fresh.take() {
                    *c = f;
                }
            });
        }
    }
}

impl RedisStore {
    /// Applies the change to the mirror, turns its difference into Redis
    /// operations (`adjust` may refine them knowing what was there before)
    /// and queues them; never waits.
    fn change(
        &self,
        name: &str,
        key: &str,
        now: u64,
        change: &mut dyn FnMut(&mut Collection),
        adjust: &dyn Fn(&Collection, &mut Vec<Op>),
    ) {
        let mut ops = Vec::new();
        self.mirror.update(name, key, now, &mut |c| {
            let before = c.clone();
            change(c);
            ops = diff(&before, c);
            adjust(&before, &mut ops);
        });
        if ops.is_empty() {
            return;
        }
        let write = Write {
            key: self.key(name, key),
            ops,
            now,
        };
        match self.queue.try_send(write) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.shared.failed("queue", &"the write queue is full")
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.shared.failed("queue", &"the writer has stopped")
            }
        }
    }
}

impl PersistentStore for RedisStore {
    fn load(&self, name: &str, key: &str, now: u64) -> Collection {
        self.mirror.load(name, key, now)
    }

    /// Applies the change to the mirror and queues its difference for
    /// Redis; never waits.
    fn update(&self, name: &str, key: &str, now: u64, change: &mut dyn FnMut(&mut Collection)) {
        self.change(name, key, now, change, &|_, _| {});
    }

    /// As `update`, but a variable new to this node is added to in Redis
    /// rather than set there: another node may have counted it already.
    fn add(
        &self,
        name: &str,
        key: &str,
        now: u64,
        var: &str,
        delta: i64,
        change: &mut dyn FnMut(&mut Collection),
    ) {
        self.change(name, key, now, change, &|before, ops| {
            if before.get_lowercase(var, now).is_some() {
                return;
            }
            for op in ops.iter_mut() {
                if let Op::Set { name, value } = op {
                    if name == var && integer(value) == Some(delta) {
                        *op = Op::Incr {
                            name: std::mem::take(name),
                            by: delta,
                        };
                    }
                }
            }
        });
    }
}
