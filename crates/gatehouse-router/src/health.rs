//! Active HTTP health checks, after Kong's `healthchecks.active`.
//!
//! One task per target probes it on the interval for its current state and
//! flips [`Target`] health when a run of consecutive outcomes crosses a
//! threshold. Only the status line of the answer is read.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::balancer::{Pool, Target};

/// Longest status line accepted; a real one is far shorter.
const MAX_STATUS_LINE: usize = 512;

/// Active probe settings for one pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveCheck {
    pub http_path: String,
    /// Bounds a whole probe: connect, send and status line.
    pub timeout: Duration,
    /// Probe period for healthy targets; zero leaves them unprobed.
    pub healthy_interval: Duration,
    /// Consecutive successes that make an unhealthy target healthy; 0 never.
    pub healthy_successes: u32,
    pub healthy_statuses: Vec<u16>,
    /// Probe period for unhealthy targets; zero leaves them unprobed.
    pub unhealthy_interval: Duration,
    /// Consecutive failures of each kind that make a target unhealthy; 0 never.
    pub unhealthy_http_failures: u32,
    pub unhealthy_tcp_failures: u32,
    pub unhealthy_timeouts: u32,
    pub unhealthy_statuses: Vec<u16>,
    /// Host header to send; by default the target's `host:port`.
    pub host_header: Option<String>,
}

/// Kong's defaults, including zero intervals: probing is opt-in.
impl Default for ActiveCheck {
    fn default() -> Self {
        ActiveCheck {
            http_path: "/".to_string(),
            timeout: Duration::from_secs(1),
            healthy_interval: Duration::ZERO,
            healthy_successes: 2,
            healthy_statuses: vec![200, 302],
            unhealthy_interval: Duration::ZERO,
            unhealthy_http_failures: 0,
            unhealthy_tcp_failures: 0,
            unhealthy_timeouts: 0,
            unhealthy_statuses: vec![429, 404, 500, 501, 502, 503, 504, 505],
            host_header: None,
        }
    }
}

impl ActiveCheck {
    /// Checks what would otherwise produce a malformed probe request, so a
    /// config loader can refuse it up front.
    pub fn validate(&self) -> Result<(), String> {
        if !self.http_path.starts_with('/') {
            return Err("http_path must start with '/'".to_string());
        }
        if self.http_path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err("http_path must not contain spaces or control characters".to_string());
        }
        if let Some(h) = &self.host_header {
            if h.is_empty() || h.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(
                    "host_header must be non-empty without spaces or control characters".into(),
                );
            }
        }
        if self.timeout.is_zero() {
            return Err("timeout must be greater than zero".to_string());
        }
        Ok(())
    }
}

/// Probes every target of `pool` until `shutdown` resolves: healthy targets
/// every `healthy_interval`, unhealthy ones every `unhealthy_interval`.
/// Targets with weight 0 are never picked, so they are not probed. An invalid
/// `check` (see [`ActiveCheck::validate`]) is logged and disables probing.
pub async fn run_active_checks(
    pool_name: String,
    pool: Arc<Pool>,
    check: ActiveCheck,
    shutdown: impl Future<Output = ()>,
) {
    if let Err(e) = check.validate() {
        log::error!("upstream {pool_name}: active health checks disabled: {e}");
        shutdown.await;
        return;
    }
    let period = check.healthy_interval.max(check.unhealthy_interval);
    if period.is_zero() {
        shutdown.await;
        return;
    }
    let probed: Vec<usize> = pool
        .targets()
        .iter()
        .enumerate()
        .filter(|(_, t)| t.weight > 0)
        .map(|(i, _)| i)
        .collect();
    let count = u32::try_from(probed.len()).unwrap_or(u32::MAX);
    let name: Arc<str> = pool_name.into();
    let check = Arc::new(check);
    let mut tasks = JoinSet::new();
    for (k, &index) in probed.iter().enumerate() {
        // Spread first probes over one period instead of bursting them.
        let k = u32::try_from(k).unwrap_or(u32::MAX);
        let delay = period
            .checked_div(count)
            .and_then(|d| d.checked_mul(k))
            .unwrap_or_default();
        tasks.spawn(probe_loop(
            Arc::clone(&name),
            Arc::clone(&pool),
            index,
            Arc::clone(&check),
            delay,
        ));
    }
    shutdown.await;
    tasks.shutdown().await;
}

async fn probe_loop(
    pool_name: Arc<str>,
    pool: Arc<Pool>,
    index: usize,
    check: Arc<ActiveCheck>,
    initial_delay: Duration,
) {
    let Some(target) = pool.targets().get(index) else {
        return;
    };
    let request = probe_request(target, &check);
    let recheck = check.healthy_interval.max(check.unhealthy_interval);
    tokio::time::sleep(initial_delay).await;
    loop {
        let interval = if target.is_healthy() {
            check.healthy_interval
        } else {
            check.unhealthy_interval
        };
        if interval.is_zero() {
            // Not probed in this state; look again in case it is changed
            // elsewhere (e.g. by passive checks).
            tokio::time::sleep(recheck).await;
            continue;
        }
        let outcome = classify(probe(target.addr, &request, check.timeout).await, &check);
        record(&pool_name, target, outcome, &check);
        tokio::time::sleep(interval).await;
    }
}

fn probe_request(target: &Target, check: &ActiveCheck) -> Vec<u8> {
    let host = match &check.host_header {
        Some(h) => h.clone(),
        // An IPv6 literal needs brackets before the port.
        None if target.host.contains(':') && !target.host.starts_with('[') => {
            format!("[{}]:{}", target.host, target.addr.port())
        }
        None => format!("{}:{}", target.host, target.addr.port()),
    };
    format!(
        "GET {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: gatehouse-health\r\n\r\n",
        check.http_path
    )
    .into_bytes()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeError {
    /// Connect, write or read failed, or the answer was not HTTP.
    Io,
    Timeout,
}

async fn probe(addr: SocketAddr, request: &[u8], timeout: Duration) -> Result<u16, ProbeError> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.map_err(|_| ProbeError::Io)?;
        stream
            .write_all(request)
            .await
            .map_err(|_| ProbeError::Io)?;
        read_status(&mut stream).await.ok_or(ProbeError::Io)
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or(Err(ProbeError::Timeout))
}

/// Reads until the first line is complete, however the bytes are split.
async fn read_status<R: AsyncRead + Unpin>(reader: &mut R) -> Option<u16> {
    let mut buf = [0u8; MAX_STATUS_LINE];
    let mut filled = 0;
    while filled < buf.len() {
        let n = reader.read(&mut buf[filled..]).await.ok()?;
        if n == 0 {
            return None;
        }
        let new = &buf[filled..filled + n];
        filled += n;
        if new.contains(&b'\n') {
            return parse_status_line(&buf[..filled]);
        }
    }
    None
}

/// Parses `HTTP/x.y NNN[ reason]` terminated by LF or CRLF at the start of
/// `buf`. `None` when the line is incomplete or not a status line.
pub fn parse_status_line(buf: &[u8]) -> Option<u16> {
    let end = buf.iter().position(|&b| b == b'\n')?;
    let line = &buf[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = line.strip_prefix(b"HTTP/")?;
    let [major, b'.', minor, b' ', d1, d2, d3, tail @ ..] = rest else {
        return None;
    };
    if !(major.is_ascii_digit() && minor.is_ascii_digit()) {
        return None;
    }
    if !matches!(tail.first(), None | Some(b' ')) {
        return None;
    }
    let mut code = 0u16;
    for d in [d1, d2, d3] {
        if !d.is_ascii_digit() {
            return None;
        }
        code = code * 10 + u16::from(d - b'0');
    }
    (code >= 100).then_some(code)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    HttpFailure,
    TcpFailure,
    Timeout,
    /// A status in neither list: counts for nothing.
    Neutral,
}

fn classify(result: Result<u16, ProbeError>, check: &ActiveCheck) -> Outcome {
    match result {
        Ok(status) if check.healthy_statuses.contains(&status) => Outcome::Success,
        Ok(status) if check.unhealthy_statuses.contains(&status) => Outcome::HttpFailure,
        Ok(_) => Outcome::Neutral,
        Err(ProbeError::Io) => Outcome::TcpFailure,
        Err(ProbeError::Timeout) => Outcome::Timeout,
    }
}

fn bump(counter: &AtomicU32) -> u32 {
    // Only this target's probe task increments, so load + store loses no
    // increment; saturating keeps a long outage from wrapping to zero.
    let n = counter.load(Ordering::Relaxed).saturating_add(1);
    counter.store(n, Ordering::Relaxed);
    n
}

/// Applies one outcome; returns the new health state when it flipped.
fn record(pool_name: &str, target: &Target, outcome: Outcome, check: &ActiveCheck) -> Option<bool> {
    let c = &target.counters;
    let (counter, threshold, what) = match outcome {
        Outcome::Neutral => return None,
        Outcome::Success => {
            for f in [&c.http_failures, &c.tcp_failures, &c.timeouts] {
                f.store(0, Ordering::Relaxed);
            }
            let n = bump(&c.successes);
            let limit = check.healthy_successes;
            if target.is_healthy() || limit == 0 || n < limit {
                return None;
            }
            target.set_healthy(true);
            log::info!(
                "upstream {pool_name} target {}:{} is now healthy ({n} {})",
                target.host,
                target.addr.port(),
                plural(n, "success", "successes")
            );
            return Some(true);
        }
        Outcome::HttpFailure => (
            &c.http_failures,
            check.unhealthy_http_failures,
            ("http failure", "http failures"),
        ),
        Outcome::TcpFailure => (
            &c.tcp_failures,
            check.unhealthy_tcp_failures,
            ("tcp failure", "tcp failures"),
        ),
        Outcome::Timeout => (
            &c.timeouts,
            check.unhealthy_timeouts,
            ("timeout", "timeouts"),
        ),
    };
    c.successes.store(0, Ordering::Relaxed);
    let n = bump(counter);
    if !target.is_healthy() || threshold == 0 || n < threshold {
        return None;
    }
    target.set_healthy(false);
    log::warn!(
        "upstream {pool_name} target {}:{} is now unhealthy ({n} {})",
        target.host,
        target.addr.port(),
        plural(n, what.0, what.1)
    );
    Some(false)
}

fn plural<'a>(n: u32, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
