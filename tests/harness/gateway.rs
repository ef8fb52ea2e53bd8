//! Runs the real `gatehouse` binary as a child process.
//!
//! [`Gateway::start_with`] writes `gatehouse.yaml` into a fresh temp dir:
//!
//! ```yaml
//! gatehouse:
//!   listeners:
//!     - address: 127.0.0.1:<proxy port>
//!   admin:
//!     address: 127.0.0.1:<admin port>
//!   workers: 1
//!   pid_file: <dir>/gatehouse.pid
//!   upgrade_sock: <dir>/upgrade.sock
//!   <extra lines, indented by two spaces>
//! <body, verbatim>
//! ```
//!
//! A top-level key of `extra` named like one of the defaults above
//! (`listeners`, `admin`, `workers`, `pid_file`, `upgrade_sock`) replaces that
//! default. In both `extra` and `body`, `{{dir}}` is replaced by the temp dir,
//! `{{proxy}}` / `{{admin}}` by the chosen `127.0.0.1:port` addresses.
//!
//! The child runs as `gatehouse -c <dir>/gatehouse.yaml` in `<dir>`, with
//! stdout/stderr in `<dir>/stdout.log` / `<dir>/stderr.log` and
//! `RUST_LOG=info` unless the environment sets it. Start-up waits (20 s at
//! most) for `GET /readyz` on the admin address to answer 200.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

#[allow(unused_imports)] // re-exported API
pub use super::cli::{check, run_binary, run_binary_in, CheckOutput};
use super::client::{self, Request, Response};

/// Start-up and CLI deadline.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Poll interval of every wait loop.
pub const POLL: Duration = Duration::from_millis(25);

/// Path of the binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_gatehouse")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local_addr").port()
}

/// Two distinct loopback addresses that were free a moment ago.
fn two_free_addrs() -> (SocketAddr, SocketAddr) {
    let a = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let b = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    (
        a.local_addr().expect("local_addr"),
        b.local_addr().expect("local_addr"),
    )
}

/// The last `max` bytes of `text` (on a char boundary).
pub fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// The config file [`Gateway::start_with`] writes (see the module docs).
pub fn render_config(
    extra: &str,
    body: &str,
    proxy: SocketAddr,
    admin: SocketAddr,
    dir: &Path,
) -> String {
    let subst = |s: &str| {
        s.replace("{{dir}}", &dir.display().to_string())
            .replace("{{proxy}}", &proxy.to_string())
            .replace("{{admin}}", &admin.to_string())
    };
    let extra = subst(extra);
    let overridden: Vec<&str> = extra
        .lines()
        .filter(|l| !l.starts_with([' ', '\t', '#', '-']))
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.trim()))
        .collect();
    let has = |key: &str| overridden.contains(&key);
    let d = dir.display();
    let mut out = String::from("gatehouse:\n");
    if !has("listeners") {
        out.push_str(&format!("  listeners:\n    - address: {proxy}\n"));
    }
    if !has("admin") {
        out.push_str(&format!("  admin:\n    address: {admin}\n"));
    }
    if !has("workers") {
        out.push_str("  workers: 1\n");
    }
    if !has("pid_file") {
        out.push_str(&format!("  pid_file: {d}/gatehouse.pid\n"));
    }
    if !has("upgrade_sock") {
        out.push_str(&format!("  upgrade_sock: {d}/upgrade.sock\n"));
    }
    for line in extra.lines().filter(|l| !l.trim().is_empty()) {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&subst(body));
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// A running gatehouse process; killed (SIGKILL) on drop.
pub struct Gateway {
    pub proxy: SocketAddr,
    pub admin: SocketAddr,
    dir: TempDir,
    config_path: PathBuf,
    child: Child,
    exited: Option<ExitStatus>,
}

struct StartFailure {
    port_race: bool,
    message: String,
}

impl Gateway {
    /// Starts with the default `gatehouse:` section and `body_yaml` after it.
    pub fn start(body_yaml: &str) -> Gateway {
        Gateway::start_with("", body_yaml)
    }

    /// Starts with extra `gatehouse:` keys (written unindented by the caller)
    /// and `body_yaml`. Panics with the exit status, config and stderr tail if
    /// the gateway is not ready within 20 s; retries with new ports up to 3
    /// times when start-up failed with "Address already in use".
    pub fn start_with(gatehouse_extra_yaml: &str, body_yaml: &str) -> Gateway {
        let mut last = String::new();
        for _attempt in 0..4 {
            match Gateway::try_start(gatehouse_extra_yaml, body_yaml) {
                Ok(gw) => return gw,
                Err(f) if f.port_race => last = f.message,
                Err(f) => panic!("{}", f.message),
            }
        }
        panic!("gateway kept hitting port races; last failure:\n{last}");
    }

    fn try_start(extra: &str, body: &str) -> Result<Gateway, StartFailure> {
        let dir = tempfile::Builder::new()
            .prefix("gatehouse-e2e-")
            .tempdir()
            .expect("create temp dir");
        let (proxy, admin) = two_free_addrs();
        let config = render_config(extra, body, proxy, admin, dir.path());
        let config_path = dir.path().join("gatehouse.yaml");
        fs::write(&config_path, &config).expect("write gatehouse.yaml");
        let stdout = File::create(dir.path().join("stdout.log")).expect("create stdout.log");
        let stderr = File::create(dir.path().join("stderr.log")).expect("create stderr.log");
        let mut cmd = Command::new(binary());
        cmd.arg("-c")
            .arg(&config_path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", binary()));
        let mut gw = Gateway {
            proxy,
            admin,
            dir,
            config_path,
            child,
            exited: None,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let outcome = loop {
            if let Ok(Some(status)) = gw.child.try_wait() {
                gw.exited = Some(status);
                break format!("gatehouse exited during start-up with {status}");
            }
            let ready = client::send(admin, &Request::get("/readyz"));
            if ready.is_ok_and(|r| r.status == 200) {
                return Ok(gw);
            }
            if Instant::now() >= deadline {
                break format!(
                    "gatehouse not ready after {START_TIMEOUT:?} (GET /readyz on {admin})"
                );
            }
            thread::sleep(POLL);
        };
        if gw.exited.is_none() {
            let _ = gw.child.kill();
            gw.exited = gw.child.wait().ok();
        }
        let logs = gw.logs();
        Err(StartFailure {
            port_race: logs.contains("Address already in use") || logs.contains("AddrInUse"),
            message: format!(
                "{outcome}\n--- config {} ---\n{config}--- stderr (last 4 KB) ---\n{}\n--- stdout (last 1 KB) ---\n{}",
                gw.config_path.display(),
                tail(&logs, 4096),
                tail(&gw.stdout(), 1024),
            ),
        })
    }

    /// stderr of the process so far.
    pub fn logs(&self) -> String {
        read_lossy(&self.dir.path().join("stderr.log"))
    }

    /// stdout of the process so far.
    pub fn stdout(&self) -> String {
        read_lossy(&self.dir.path().join("stdout.log"))
    }

    /// Polls stderr+stdout until `needle` appears; false after `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.logs().contains(needle) || self.stdout().contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(POLL);
        }
    }

    /// The temp dir holding the config, logs, pid file and upgrade socket.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn context(&self, what: &str, e: std::io::Error) -> String {
        format!(
            "{what} failed: {e}\n--- gatehouse stderr (last 4 KB) ---\n{}",
            tail(&self.logs(), 4096)
        )
    }

    /// `GET path` on the proxy listener (`Connection: close`).
    pub fn get(&self, path: &str) -> Response {
        self.send(&Request::get(path))
    }

    /// Sends `req` to the proxy listener with [`client::send`].
    pub fn send(&self, req: &Request) -> Response {
        client::send(self.proxy, req).unwrap_or_else(|e| {
            panic!(
                "{}",
                self.context(&format!("{} {}", req.method, req.target), e)
            )
        })
    }

    /// [`client::send_raw`] to the proxy listener.
    pub fn send_raw(&self, bytes: &[u8]) -> Vec<u8> {
        client::send_raw(self.proxy, bytes)
            .unwrap_or_else(|e| panic!("{}", self.context("send_raw", e)))
    }

    /// `GET path` on the admin listener.
    pub fn admin_get(&self, path: &str) -> Response {
        client::send(self.admin, &Request::get(path))
            .unwrap_or_else(|e| panic!("{}", self.context(&format!("admin GET {path}"), e)))
    }

    /// `GET /metrics` on the admin listener; panics unless it answers 200.
    pub fn metrics(&self) -> String {
        let r = self.admin_get("/metrics");
        assert_eq!(r.status, 200, "GET /metrics: {r:?}");
        r.body_lossy().into_owned()
    }

    /// Sends a signal by name (`TERM`, `HUP`, `QUIT`, ...) with `kill`.
    pub fn signal(&self, sig: &str) {
        send_signal(self.pid(), sig);
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.exited.is_some() {
                return self.exited;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exited = Some(status);
                return self.exited;
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL);
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.wait_exit(Duration::ZERO).is_none()
    }

    /// SIGTERM, wait up to 5 s, then SIGKILL. Returns the exit status.
    pub fn stop(&mut self) -> ExitStatus {
        if let Some(status) = self.exited {
            return status;
        }
        self.signal("TERM");
        if let Some(status) = self.wait_exit(Duration::from_secs(5)) {
            return status;
        }
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait for gatehouse");
        self.exited = Some(status);
        status
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
        if thread::panicking() {
            eprintln!(
                "--- gatehouse {} stderr (last 8 KB) ---\n{}",
                self.config_path.display(),
                tail(&self.logs(), 8192)
            );
        }
    }
}

/// `kill -<sig> <pid>` (falls back to the shell's built-in kill).
pub fn send_signal(pid: u32, sig: &str) {
    let pid = pid.to_string();
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(&pid)
        .status()
        .or_else(|_| {
            Command::new("sh")
                .args(["-c", "kill -s \"$1\" \"$2\"", "sh", sig, &pid])
                .status()
        });
    if !status.as_ref().is_ok_and(ExitStatus::success) {
        eprintln!("kill -{sig} {pid}: {status:?}");
    }
}

/// Sum of all samples of metric `name` whose labels include every pair in
/// `labels`, from Prometheus text format; `None` if no sample matched.
pub fn metric_sum(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut sum = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (label_text, value) = if let Some(r) = rest.strip_prefix('{') {
            match r.rsplit_once('}') {
                Some((l, v)) => (l, v),
                None => continue,
            }
        } else if rest.starts_with(' ') {
            ("", rest)
        } else {
            continue;
        };
        let found = parse_labels(label_text);
        let matches = labels
            .iter()
            .all(|(k, v)| found.iter().any(|(fk, fv)| fk == k && fv == v));
        let value = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok());
        if let (true, Some(v)) = (matches, value) {
            sum = Some(sum.unwrap_or(0.0) + v);
        }
    }
    sum
}

/// Parses `a="x",b="y\"z"` into pairs (escapes `\\`, `\"`, `\n` undone).
fn parse_labels(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let key = key.trim().trim_start_matches(',').trim().to_string();
        if key.is_empty() || chars.next() != Some('"') {
            return out;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => {}
                },
                c => value.push(c),
            }
        }
        out.push((key, value));
    }
}
