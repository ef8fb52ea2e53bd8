//! Running the `gatehouse` binary as a command-line tool (`check`, ...),
//! bounded by 20 s, with its output captured.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Instant;

use tempfile::TempDir;

use super::gateway::{binary, tail, POLL, START_TIMEOUT};

/// Result of running the binary as a CLI.
pub struct CheckOutput {
    /// Exit code; -1 if killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// [`check`]: the config file checked. [`run_binary`]: the working dir.
    pub path: PathBuf,
    /// Keeps `path` alive as long as the output.
    _dir: Option<TempDir>,
}

impl CheckOutput {
    pub fn success(&self) -> bool {
        self.code == 0
    }
    /// stdout then stderr.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Debug for CheckOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit code {} ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            self.path.display(),
            self.stdout,
            self.stderr
        )
    }
}

/// Writes `yaml` to `<tempdir>/gatehouse.yaml` and runs
/// `gatehouse check -c <file>` (20 s at most).
pub fn check(yaml: &str) -> CheckOutput {
    let dir = tempfile::tempdir().expect("create temp dir");
    let path = dir.path().join("gatehouse.yaml");
    fs::write(&path, yaml).expect("write gatehouse.yaml");
    let file = path.to_str().expect("utf-8 temp path");
    let mut out = run_binary_in(dir.path(), &["check", "-c", file]);
    out.path = path;
    out._dir = Some(dir);
    out
}

/// Runs `gatehouse <args>` in a fresh temp dir (20 s at most).
pub fn run_binary(args: &[&str]) -> CheckOutput {
    let dir = tempfile::tempdir().expect("create temp dir");
    let mut out = run_binary_in(dir.path(), args);
    out._dir = Some(dir);
    out
}

/// Runs `gatehouse <args>` with `cwd` as working dir (20 s at most; panics
/// after killing it if it takes longer). `RUST_LOG=info` unless set.
pub fn run_binary_in(cwd: &Path, args: &[&str]) -> CheckOutput {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "info");
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn {}: {e}", binary()));
    let collect = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = collect(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = collect(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + START_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err.join().unwrap_or_default();
            panic!(
                "gatehouse {args:?} still running after {START_TIMEOUT:?}; stderr:\n{}",
                tail(&stderr, 4096)
            );
        }
        thread::sleep(POLL);
    };
    CheckOutput {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        path: cwd.to_path_buf(),
        _dir: None,
    }
}
