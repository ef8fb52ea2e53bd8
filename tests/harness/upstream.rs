//! A recording HTTP/1.1 upstream server on 127.0.0.1 (std threads).
//!
//! One thread accepts, one thread serves each connection; keep-alive and
//! pipelining are supported (requests on a connection are answered in order).
//! Request bodies are read by Content-Length or chunked encoding (decoded).
//! Every request is recorded *before* the handler runs, so a test can wait for
//! a request that the handler is still delaying.
//!
//! Malformed input never panics: what could be parsed is recorded with
//! [`Recorded::error`] set, a `400` is sent and the connection is closed (the
//! handler is not called). A connection that closes without sending a byte
//! records nothing.
//!
//! Health checks: requests whose path (target without query) equals the
//! health path (default `/health`, change with [`Upstream::set_health_path`]
//! or [`Upstream::start_with_health`]) are answered with the status from
//! [`Upstream::set_health_status`] (default 200), are *not* recorded in
//! [`Upstream::requests`] and are counted in [`Upstream::health_probes`].
//!
//! `Expect: 100-continue` on a request with a body is answered with an interim
//! `100 Continue` before the body is read, as real servers do.
//!
//! Dropping the `Upstream` stops it: the listener closes and every open
//! connection is shut down (peers see EOF).

use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::client;
pub use super::recorded::Recorded;
use super::recorded::{read_request, wants_close};
use super::wire::{self, find_header};

/// How long an idle upstream connection waits for the next request.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the handler answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    /// Written as given. `content-length` is added unless the handler set
    /// `content-length` or `transfer-encoding` (then the body is written as is).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Sleep before answering.
    pub delay: Duration,
    /// If set, these bytes are written instead of a formatted response and the
    /// connection is closed (empty = hang up without answering).
    pub raw: Option<Vec<u8>>,
}

impl Reply {
    /// 200 with `content-type: text/plain` and `body`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::status(200)
            .header("content-type", "text/plain")
            .body(body)
    }
    /// `status` with no headers and an empty body.
    pub fn status(code: u16) -> Reply {
        Reply {
            status: code,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            raw: None,
        }
    }
    /// 200 with `content-type: application/json`.
    pub fn json(value: &serde_json::Value) -> Reply {
        Reply::status(200)
            .header("content-type", "application/json")
            .body(value.to_string())
    }
    /// 200 JSON describing the request: method, target, version, headers
    /// (as `[[name, value], ...]`), body (lossy text), peer, connection.
    pub fn echo(req: &Recorded) -> Reply {
        Reply::json(&serde_json::json!({
            "method": req.method,
            "target": req.target,
            "version": req.version,
            "headers": req.headers,
            "body": String::from_utf8_lossy(&req.body),
            "peer": req.peer.to_string(),
            "connection": req.connection,
        }))
    }
    /// Writes `bytes` verbatim and closes the connection.
    pub fn raw(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply {
            raw: Some(bytes.into()),
            ..Reply::status(0)
        }
    }
    /// Closes the connection without answering.
    pub fn hang_up() -> Reply {
        Reply::raw(Vec::new())
    }
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }
    pub fn delay(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync + 'static;

struct Shared {
    handler: Box<Handler>,
    requests: Mutex<Vec<Recorded>>,
    health: Mutex<Vec<Recorded>>,
    changed: Condvar,
    health_path: Mutex<String>,
    health_status: AtomicU16,
    connections: AtomicUsize,
    stop: AtomicBool,
    open: Mutex<HashMap<usize, TcpStream>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running recording upstream; stops on drop.
pub struct Upstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl Upstream {
    /// Answers every request with 200, `content-type: text/plain`, body `ok`.
    pub fn start() -> Upstream {
        Upstream::start_with(|_| Reply::ok("ok"))
    }

    pub fn start_with<F>(handler: F) -> Upstream
    where
        F: Fn(&Recorded) -> Reply + Send + Sync + 'static,
    {
        Upstream::start_with_health("/health", handler)
    }

    /// Like [`Upstream::start_with`] with a custom health path.
    pub fn start_with_health<F>(health_path: &str, handler: F) -> Upstream
    where
        F: Fn(&Recorded) -> Reply + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream listener");
        let addr = listener.local_addr().expect("upstream local_addr");
        let shared = Arc::new(Shared {
            handler: Box::new(handler),
            requests: Mutex::new(Vec::new()),
            health: Mutex::new(Vec::new()),
            changed: Condvar::new(),
            health_path: Mutex::new(health_path.to_string()),
            health_status: AtomicU16::new(200),
            connections: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            open: Mutex::new(HashMap::new()),
        });
        let s = Arc::clone(&shared);
        let acceptor = thread::Builder::new()
            .name(format!("upstream-{}", addr.port()))
            .spawn(move || accept_loop(listener, s))
            .expect("spawn upstream acceptor");
        Upstream {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://127.0.0.1:<port>`, handy for configs.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Snapshot of the recorded (non-health) requests, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }
    pub fn count(&self) -> usize {
        lock(&self.shared.requests).len()
    }
    /// The last recorded request; panics if none.
    pub fn last(&self) -> Recorded {
        lock(&self.shared.requests)
            .last()
            .cloned()
            .expect("upstream has recorded no request")
    }
    /// Waits until at least `n` requests are recorded; false on timeout.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, || lock(&self.shared.requests).len() >= n)
    }
    /// Forgets recorded requests (health probes are kept).
    pub fn clear(&self) {
        lock(&self.shared.requests).clear();
    }
    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
    /// Connections currently open.
    pub fn open_connections(&self) -> usize {
        lock(&self.shared.open).len()
    }
    /// Shuts down every open connection (keep-alive ones included).
    pub fn close_connections(&self) {
        for s in lock(&self.shared.open).values() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    pub fn set_health_status(&self, status: u16) {
        self.shared.health_status.store(status, Ordering::SeqCst);
    }
    pub fn set_health_path(&self, path: &str) {
        *lock(&self.shared.health_path) = path.to_string();
    }
    /// Health-path requests served so far.
    pub fn health_probes(&self) -> usize {
        lock(&self.shared.health).len()
    }
    /// Snapshot of the health-path requests.
    pub fn health_requests(&self) -> Vec<Recorded> {
        lock(&self.shared.health).clone()
    }
    /// Waits until at least `n` health probes arrived; false on timeout.
    pub fn wait_for_probes(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, || lock(&self.shared.health).len() >= n)
    }

    fn wait_until(&self, timeout: Duration, done: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        // The condvar is paired with `requests`; re-check `done` at least
        // every 50 ms so waits on other state are bounded too.
        let mut guard = lock(&self.shared.requests);
        loop {
            drop(guard);
            if done() {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = lock(&self.shared.requests);
            guard = self
                .shared
                .changed
                .wait_timeout(guard, left.min(Duration::from_millis(50)))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() by connecting to ourselves.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        self.close_connections();
        if let Some(handle) = self.acceptor.take() {
            let deadline = Instant::now() + Duration::from_secs(2);
            while !handle.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if handle.is_finished() {
                let _ = handle.join();
            }
        }
        // A connection accepted just before the stop flag was seen.
        self.close_connections();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let id = shared.connections.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.open).insert(id, clone);
        }
        let s = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name(format!("upstream-conn-{id}"))
            .spawn(move || {
                serve_connection(stream, id, &s);
                lock(&s.open).remove(&id);
            });
        if spawned.is_err() {
            lock(&shared.open).remove(&id);
        }
    }
}

fn serve_connection(stream: TcpStream, id: usize, shared: &Shared) {
    let Ok(peer) = stream.peer_addr() else { return };
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_write_timeout(Some(client::TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while !shared.stop.load(Ordering::SeqCst) {
        let Some(req) = read_request(&mut reader, &mut writer, peer, id) else {
            return;
        };
        if req.error.is_some() {
            shared.record(req, false);
            let _ = writer.write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            return graceful_close(reader);
        }
        let is_health = req.path() == lock(&shared.health_path).as_str();
        let reply = if is_health {
            let status = shared.health_status.load(Ordering::SeqCst);
            shared.record(req.clone(), true);
            Reply::status(status).body(if status == 200 {
                "healthy"
            } else {
                "unhealthy"
            })
        } else {
            shared.record(req.clone(), false);
            (shared.handler)(&req)
        };
        if !reply.delay.is_zero() {
            thread::sleep(reply.delay);
        }
        if let Some(raw) = &reply.raw {
            let _ = writer.write_all(raw);
            return graceful_close(reader);
        }
        let close = wants_close(&req)
            || find_header(&reply.headers, "connection")
                .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        if writer
            .write_all(&format_reply(&reply, &req, close))
            .is_err()
            || close
        {
            return graceful_close(reader);
        }
    }
}

/// Sends FIN, then discards input for up to 1 s before closing, so that
/// unread request bytes do not turn the close into a reset (which could
/// destroy the response before the peer reads it).
fn graceful_close(mut reader: BufReader<TcpStream>) {
    let stream = reader.get_ref();
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match reader.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if wire::is_timeout(&e) => {}
            Err(_) => return,
        }
    }
}

impl Shared {
    fn record(&self, req: Recorded, health: bool) {
        if health {
            lock(&self.health).push(req);
        } else {
            lock(&self.requests).push(req);
        }
        self.changed.notify_all();
    }
}

fn format_reply(reply: &Reply, req: &Recorded, close: bool) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        reply.status,
        wire::reason(reply.status)
    );
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let bodyless = (100..200).contains(&reply.status) || reply.status == 204 || reply.status == 304;
    if !bodyless
        && find_header(&reply.headers, "content-length").is_none()
        && find_header(&reply.headers, "transfer-encoding").is_none()
    {
        head.push_str(&format!("content-length: {}\r\n", reply.body.len()));
    }
    if close && find_header(&reply.headers, "connection").is_none() {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if !bodyless && !req.method.eq_ignore_ascii_case("HEAD") {
        out.extend_from_slice(&reply.body);
    }
    out
}
