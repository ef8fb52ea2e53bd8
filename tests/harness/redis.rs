//! A real `redis-server` for tests: started on a free loopback port with
//! no persistence, killed on drop, and a tiny blocking RESP client to look
//! inside it. Shared by the end-to-end tests and the
//! `gatehouse-waf-redis` crate's tests.
//!
//! Without `redis-server` installed, [`RedisServer::start`] prints why
//! and returns `None` (the test skips), unless `CI=true`: there it fails.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started server gets to answer `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// One reply, as RESP2 has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Nil,
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Array(Vec<Reply>),
}

impl Reply {
    /// A bulk or status reply as text.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Reply::Status(s) => Some(s.clone()),
            _ => None,
        }
    }
}

pub struct RedisServer {
    pub port: u16,
    child: Child,
    password: Option<String>,
}

impl RedisServer {
    /// A server with no password, or `None` (skip) when `redis-server` is
    /// not installed outside CI.
    pub fn start(test: &str) -> Option<RedisServer> {
        RedisServer::start_with(test, None)
    }

    /// A server requiring `password` when given.
    pub fn start_with(test: &str, password: Option<&str>) -> Option<RedisServer> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_err()
        {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true");
            assert!(
                !ci,
                "{test}: redis-server is not installed (scripts/deps.sh installs it)"
            );
            // Straight to stderr: the test harness would capture eprintln!.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: redis-server is not installed (run scripts/deps.sh to install it)"
            );
            return None;
        }
        let mut last = String::new();
        for _ in 0..4 {
            match RedisServer::try_start(password) {
                Ok(server) => return Some(server),
                Err(e) => last = e,
            }
        }
        panic!("{test}: redis-server did not start: {last}");
    }

    fn try_start(password: Option<&str>) -> Result<RedisServer, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(p) = password {
            cmd.args(["--requirepass", p]);
        }
        let child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
        let mut server = RedisServer {
            port,
            child,
            password: password.map(str::to_string),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Reply::Status(s)) = server.command(&["PING"]) {
                if s == "PONG" {
                    return Ok(server);
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!("exited with {status} (port {port} taken?)"));
            }
            if Instant::now() >= deadline {
                return Err(format!("no PONG on port {port} within {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// One command on database 0.
    pub fn command(&self, args: &[&str]) -> Result<Reply, String> {
        self.command_in(0, args)
    }

    /// One command on `db`, on a fresh connection (authenticated when the
    /// server has a password).
    pub fn command_in(&self, db: u32, args: &[&str]) -> Result<Reply, String> {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .map_err(|e| e.to_string())?;
        let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
        let mut writer = stream;
        let db = db.to_string();
        let mut send = |args: &[&str]| -> Result<Reply, String> {
            let mut out = format!("*{}\r\n", args.len()).into_bytes();
            for a in args {
                out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                out.extend_from_slice(a.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            writer.write_all(&out).map_err(|e| e.to_string())?;
            read_reply(&mut reader)
        };
        if let Some(p) = &self.password {
            send(&["AUTH", p])?;
        }
        if db != "0" {
            send(&["SELECT", &db])?;
        }
        send(args)
    }

    /// `HGET key field` as text.
    pub fn hget(&self, key: &str, field: &str) -> Option<String> {
        self.command(&["HGET", key, field]).ok()?.text()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_line(r: &mut impl BufRead) -> Result<String, String> {
    let mut line = String::new();
    r.read_line(&mut line).map_err(|e| e.to_string())?;
    if !line.ends_with("\r\n") {
        return Err(format!("truncated reply `{line}`"));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn read_reply(r: &mut impl BufRead) -> Result<Reply, String> {
    let line = read_line(r)?;
    let (kind, rest) = line.split_at(line.len().min(1));
    let n = || rest.parse::<i64>().map_err(|e| format!("`{line}`: {e}"));
    Ok(match kind {
        "+" => Reply::Status(rest.to_string()),
        "-" => Reply::Error(rest.to_string()),
        ":" => Reply::Int(n()?),
        "$" if n()? < 0 => Reply::Nil,
        "$" => {
            let len = usize::try_from(n()?).map_err(|e| e.to_string())?;
            let mut buf = vec![0; len + 2];
            r.read_exact(&mut buf).map_err(|e| e.to_string())?;
            buf.truncate(len);
            Reply::Bulk(buf)
        }
        "*" if n()? < 0 => Reply::Nil,
        "*" => (0..n()?)
            .map(|_| read_reply(r))
            .collect::<Result<_, _>>()
            .map(Reply::Array)?,
        _ => return Err(format!("unknown reply `{line}`")),
    })
}
