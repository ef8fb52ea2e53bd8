//! Process lifecycle through Pingora's own flags: `-u` (zero-downtime
//! upgrade) and `-d` (daemon).

use crate::harness::gateway::{binary, render_config, send_signal};
use crate::harness::{
    eventually, free_port, one_service, run_binary, send, Gateway, Request, Upstream,
};
use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Sends requests on fresh connections until `stop`; returns every outcome.
fn load(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<Result<u16, String>>> {
    std::thread::spawn(move || {
        let mut outcomes = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            outcomes.push(
                send(addr, &Request::get("/api/x"))
                    .map(|r| r.status)
                    .map_err(|e| e.to_string()),
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        outcomes
    })
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn upgrade_hands_over_listeners_without_dropping_requests() {
    let up = Upstream::start();
    let mut old = Gateway::start_with("grace_period: 1s\n", &one_service("api", &up, &["/api"]));
    let stop = Arc::new(AtomicBool::new(false));
    let traffic = load(old.proxy, stop.clone());

    let log = |name: &str| File::create(old.dir().join(name)).expect("log file");
    let mut new = Command::new(binary())
        .args(["-u", "-c"])
        .arg(old.config_path())
        .current_dir(old.dir())
        .stdin(Stdio::null())
        .stdout(log("new-stdout.log"))
        .stderr(log("new-stderr.log"))
        .spawn()
        .expect("start the new process");
    let new_pid = new.id();
    // The new process waits on the upgrade socket; the old one sends its
    // listeners there on SIGQUIT, then drains and exits.
    std::thread::sleep(Duration::from_millis(500));
    old.signal("QUIT");
    let exited = old.wait_exit(Duration::from_secs(30));
    assert!(exited.is_some(), "the old process exits after handing over");
    // Keep serving a while on the new process alone.
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let outcomes = traffic.join().expect("load thread");

    let served_after = send(old.proxy, &Request::get("/api/after")).map(|r| r.status);
    let new_log = std::fs::read_to_string(old.dir().join("new-stderr.log")).unwrap_or_default();
    send_signal(new_pid, "INT");
    let _ = new.wait();

    let failures: Vec<_> = outcomes.iter().filter(|o| !matches!(o, Ok(200))).collect();
    assert!(
        outcomes.len() > 50,
        "enough traffic during the upgrade: {}",
        outcomes.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} requests failed: {failures:?}\n{new_log}",
        failures.len(),
        outcomes.len()
    );
    assert_eq!(
        served_after.ok(),
        Some(200),
        "the new process serves:\n{new_log}"
    );
}

#[test]
fn daemon_mode_writes_its_pid_and_serves() {
    let up = Upstream::start();
    let dir = tempfile::tempdir().unwrap();
    let proxy: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let config = render_config(
        "error_log: {{dir}}/error.log\n",
        &one_service("api", &up, &["/api"]),
        proxy,
        admin,
        dir.path(),
    );
    let path = dir.path().join("gatehouse.yaml");
    std::fs::write(&path, config).unwrap();

    let out = run_binary(&["-d", "-c", path.to_str().unwrap()]);
    assert_eq!(
        out.code,
        0,
        "the launcher returns once daemonised: {}",
        out.combined()
    );
    let pid_file = dir.path().join("gatehouse.pid");
    assert!(
        eventually(Duration::from_secs(10), || pid_file.exists()),
        "pid file written"
    );
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .expect("pid");
    let served = eventually(Duration::from_secs(10), || {
        send(proxy, &Request::get("/api/d")).is_ok_and(|r| r.status == 200)
    });
    send_signal(pid, "INT");
    assert!(served, "daemon serves requests");
    assert!(
        eventually(Duration::from_secs(10), || !alive(pid)),
        "daemon stops on SIGINT"
    );
    let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
    assert!(
        log.contains("gatehouse proxy"),
        "logs go to error_log:\n{log}"
    );
}
