//! Reading files, the `gatehouse:` section, and assembling the plan.

use crate::de::from_node;
use crate::diag::{Mark, Report};
use crate::entities::Entities;
use crate::model::Document;
use crate::node;
use crate::plan::{Plan, ServerSettings};
use crate::raw::Raw;
use crate::section::{GatehouseConf, HttpConf, RedisConf, TimeoutsConf};
use crate::Diagnostics;
use gatehouse_access::{CidrSet, RealIpHeader, RealIpResolver};
use gatehouse_waf_redis::{RedisSettings, RedisStore};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const DEFAULT_LISTENER: &str = "0.0.0.0:8000";
const DEFAULT_ADMIN: &str = "127.0.0.1:8100";
const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(75);
/// nginx `client_header_timeout`.
const DEFAULT_CLIENT_HEADER_TIMEOUT: Duration = Duration::from_secs(60);
/// Pingora's HTTP/1 parser refuses heads with more fields than this.
const MAX_HEADERS_CAP: usize = 256;
/// Pingora's HTTP/1 parser refuses heads larger than this (1 MiB - 1).
const MAX_HEAD_CAP: usize = 1_048_575;
const FORMAT_VERSIONS: &[&str] = &["1.1", "2.1", "3.0"];

pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Plan, Diagnostics> {
    let display: Arc<str> = Arc::from(path.display().to_string());
    let file_error = |message: String| {
        let report = Report::default();
        report.error(
            &Mark {
                file: display.clone(),
                line: 1,
                col: 1,
            },
            "",
            message,
        );
        report.finish()
    };
    let meta = std::fs::metadata(path)
        .map_err(|e| file_error(format!("cannot read configuration: {e}")))?;
    let files = if meta.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| file_error(format!("cannot list configuration folder: {e}")))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(file_error(
                "the configuration folder has no .yaml or .yml file".into(),
            ));
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut sources = Vec::with_capacity(files.len());
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| {
            let report = Report::default();
            report.error(
                &Mark {
                    file: Arc::from(f.display().to_string()),
                    line: 1,
                    col: 1,
                },
                "",
                format!("cannot read configuration: {e}"),
            );
            report.finish()
        })?;
        sources.push((f.display().to_string(), text));
    }
    load_sources(sources, env)
}

pub fn load_sources(
    sources: Vec<(String, String)>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, Diagnostics> {
    let report = Report::default();
    let mut docs: Vec<(Arc<str>, Document)> = Vec::new();
    for (name, text) in &sources {
        let file: Arc<str> = Arc::from(name.as_str());
        let Some(root) = node::parse(&file, text, env, &report) else {
            continue;
        };
        if let Some(doc) = from_node::<Document>(&root, "", &report) {
            docs.push((file, doc));
        }
    }
    let plan = compile(docs, &report);
    match plan {
        Some(plan) if report.is_empty() => Ok(plan),
        _ => Err(report.finish()),
    }
}

fn compile(docs: Vec<(Arc<str>, Document)>, report: &Report) -> Option<Plan> {
    let mut section: Option<Raw> = None;
    for (_, doc) in &docs {
        if let Some(v) = &doc.format_version {
            if !FORMAT_VERSIONS.contains(&v.as_str()) {
                // The key's own location is not kept by the typed model;
                // point at the section or the document start instead.
                let mark = doc.gatehouse.as_ref().map(|g| g.mark().clone());
                let mark = mark.unwrap_or_else(|| first_mark(doc));
                report.error(
                    &mark,
                    "_format_version",
                    format!("unsupported format version `{v}` (expected one of 1.1, 2.1, 3.0)"),
                );
            }
        }
        if doc.transform == Some(false) {
            report.error(
                &first_mark(doc),
                "_transform",
                "`_transform: false` is not supported",
            );
        }
        if let Some(g) = &doc.gatehouse {
            match &section {
                Some(first) => report.error(
                    g.mark(),
                    "gatehouse",
                    format!(
                        "the `gatehouse` section is already defined at {}:{}",
                        first.mark().file,
                        first.mark().line
                    ),
                ),
                None => section = Some(g.clone()),
            }
        }
    }
    // With errors, what could be read is still checked for more of them;
    // the report then refuses the plan.
    let conf = match &section {
        Some(raw) => raw
            .parse_recovered::<GatehouseConf>(report)
            .map_or_else(|partial| partial, Some),
        None => Some(GatehouseConf::default()),
    };
    let settings = conf
        .as_ref()
        .and_then(|c| compile_section(c, section.as_ref(), report));
    let timeouts = conf.as_ref().and_then(|c| c.timeouts.as_ref());
    let defaults = UpstreamDefaults::from(timeouts);

    // One store per plan: every `waf` entry counts into the same `IP`.
    let redis = settings
        .as_ref()
        .and_then(|s| s.redis.clone())
        .map(|r| Arc::new(RedisStore::new(r)));
    let mut entities = Entities::new(report, defaults, redis.clone());
    for (_, doc) in &docs {
        for raw in &doc.upstreams {
            entities.upstream(raw);
        }
    }
    for (_, doc) in &docs {
        for raw in &doc.services {
            entities.service(raw);
        }
    }
    for (_, doc) in &docs {
        for raw in &doc.routes {
            entities.top_level_route(raw);
        }
        for raw in &doc.consumers {
            entities.consumer(raw);
        }
        for raw in &doc.plugins {
            entities.plugin(raw);
        }
    }
    let built = entities.finish();
    let (settings, built) = (settings?, built?);
    Some(Plan {
        server: settings.server,
        listeners: settings.listeners,
        admin: settings.admin,
        real_ip: settings.real_ip,
        router: built.router,
        routes: built.routes,
        services: built.services,
        upstreams: built.upstreams,
        consumers: built.consumers,
        jwks: built.jwks,
        waf_redis: redis,
    })
}

fn first_mark(doc: &Document) -> Mark {
    [doc.gatehouse.as_ref()]
        .into_iter()
        .flatten()
        .chain(doc.services.iter())
        .chain(doc.routes.iter())
        .chain(doc.upstreams.iter())
        .map(|r| r.mark().clone())
        .min_by_key(|m| m.line)
        .unwrap_or(Mark {
            file: Arc::from(""),
            line: 1,
            col: 1,
        })
}

/// Upstream timeouts services inherit unless they set their own.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamDefaults {
    pub connect: Duration,
    pub read: Duration,
    pub write: Duration,
}

impl From<Option<&TimeoutsConf>> for UpstreamDefaults {
    fn from(t: Option<&TimeoutsConf>) -> Self {
        let pick =
            |v: Option<crate::section::DurationValue>| v.map_or(DEFAULT_UPSTREAM_TIMEOUT, |d| d.0);
        UpstreamDefaults {
            connect: pick(t.and_then(|t| t.connect)),
            read: pick(t.and_then(|t| t.read)),
            write: pick(t.and_then(|t| t.write)),
        }
    }
}

struct Settings {
    server: ServerSettings,
    listeners: Vec<SocketAddr>,
    admin: Option<SocketAddr>,
    real_ip: RealIpResolver,
    redis: Option<RedisSettings>,
}

fn compile_section(c: &GatehouseConf, raw: Option<&Raw>, report: &Report) -> Option<Settings> {
    let errors_before = report.len();
    let root = Raw::new(
        raw.map(|r| r.node.clone()).unwrap_or(crate::node::Node {
            kind: crate::node::NodeKind::Null,
            mark: Mark {
                file: Arc::from(""),
                line: 1,
                col: 1,
            },
        }),
        "gatehouse",
    );
    let mut listeners = Vec::new();
    match &c.listeners {
        None => listeners.extend(DEFAULT_LISTENER.parse::<SocketAddr>().ok()),
        Some(list) if list.is_empty() => {
            root.error_at(report, "listeners", "at least one listener is needed")
        }
        Some(list) => {
            for (i, l) in list.iter().enumerate() {
                let at = || {
                    root.item("listeners", i)
                        .map_or_else(|| root.at("listeners"), |r| r.at("address"))
                };
                match l.address.parse::<SocketAddr>() {
                    Ok(a) if listeners.contains(&a) => {
                        let (m, p) = at();
                        report.error(&m, &p, format!("listener `{a}` is defined twice"));
                    }
                    Ok(a) => listeners.push(a),
                    Err(_) => {
                        let (m, p) = at();
                        report.error(
                            &m,
                            &p,
                            format!(
                                "`{}` is not an address such as 0.0.0.0:8000 or [::]:8000",
                                l.address
                            ),
                        );
                    }
                }
            }
        }
    }
    let admin_enabled = c.admin.as_ref().and_then(|a| a.enabled).unwrap_or(true);
    let admin_raw = root.child("admin");
    let admin = if admin_enabled {
        let text = c
            .admin
            .as_ref()
            .and_then(|a| a.address.as_deref())
            .unwrap_or(DEFAULT_ADMIN);
        match text.parse::<SocketAddr>() {
            Ok(a) if listeners.contains(&a) => {
                let (m, p) = admin_raw
                    .as_ref()
                    .map_or_else(|| root.at("admin"), |r| r.at("address"));
                report.error(
                    &m,
                    &p,
                    format!("the admin address `{a}` is also a proxy listener"),
                );
                None
            }
            Ok(a) => Some(a),
            Err(_) => {
                let (m, p) = admin_raw
                    .as_ref()
                    .map_or_else(|| root.at("admin"), |r| r.at("address"));
                report.error(
                    &m,
                    &p,
                    format!("`{text}` is not an address such as 127.0.0.1:8100"),
                );
                None
            }
        }
    } else {
        None
    };
    let workers = match c.workers {
        Some(0) => {
            root.error_at(report, "workers", "workers must be at least 1");
            1
        }
        Some(n) if n > 1024 => {
            root.error_at(report, "workers", "workers must be at most 1024");
            1
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut trusted = CidrSet::new();
    for (i, entry) in c.trusted_proxies.iter().enumerate() {
        if let Err(e) = trusted.add(entry) {
            let (m, p) = root.at_index("trusted_proxies", i);
            report.error(&m, &p, e.0);
        }
    }
    let header = match c.real_ip_header.as_deref().map(str::to_ascii_lowercase) {
        None => RealIpHeader::XForwardedFor,
        Some(h) if h == "x-forwarded-for" => RealIpHeader::XForwardedFor,
        Some(h) if h == "proxy_protocol" => {
            root.error_at(
                report,
                "real_ip_header",
                "`proxy_protocol` is not supported yet",
            );
            RealIpHeader::XForwardedFor
        }
        Some(h) if is_token(&h) => RealIpHeader::Single(h),
        Some(h) => {
            root.error_at(
                report,
                "real_ip_header",
                format!("`{h}` is not a valid header name"),
            );
            RealIpHeader::XForwardedFor
        }
    };
    let real_ip = RealIpResolver::new(trusted, header, c.real_ip_recursive.unwrap_or(false));
    let timeouts_raw = root.child("timeouts");
    if let (Some(t), Some(traw)) = (&c.timeouts, &timeouts_raw) {
        for (key, v) in [
            ("connect", t.connect),
            ("read", t.read),
            ("write", t.write),
            ("keepalive", t.keepalive),
            ("client_header", t.client_header),
        ] {
            if v.is_some_and(|d| d.0.is_zero()) {
                traw.error_at(report, key, "must be greater than 0");
            }
        }
    }
    let keepalive = c
        .timeouts
        .as_ref()
        .and_then(|t| t.keepalive)
        .map_or(DEFAULT_KEEPALIVE, |d| d.0);
    let client_header_timeout = c
        .timeouts
        .as_ref()
        .and_then(|t| t.client_header)
        .map_or(DEFAULT_CLIENT_HEADER_TIMEOUT, |d| d.0);
    for (key, value) in [
        ("pid_file", &c.pid_file),
        ("upgrade_sock", &c.upgrade_sock),
        ("error_log", &c.error_log),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            root.error_at(report, key, "must not be empty");
        }
    }
    let http_limits = http_limits(c.http.as_ref(), &root, report);
    let redis = c.redis.as_ref().map(|r| redis_settings(r, &root, report));
    let server = ServerSettings {
        workers,
        pid_file: c
            .pid_file
            .clone()
            .unwrap_or_else(|| "/tmp/gatehouse.pid".into()),
        upgrade_sock: c
            .upgrade_sock
            .clone()
            .unwrap_or_else(|| "/tmp/gatehouse_upgrade.sock".into()),
        error_log: c.error_log.clone(),
        user: c.user.clone(),
        group: c.group.clone(),
        grace_period: c.grace_period.map(|d| d.0),
        graceful_shutdown_timeout: c.graceful_shutdown_timeout.map(|d| d.0),
        keepalive,
        client_header_timeout,
        http_limits,
    };
    if report.len() > errors_before {
        return None;
    }
    Some(Settings {
        server,
        listeners,
        admin,
        real_ip,
        redis,
    })
}

/// The `redis:` block with its defaults. An empty host, port 0 or a zero
/// timeout is an error; an empty password (an unset `${VAR}`) means none.
fn redis_settings(c: &RedisConf, root: &Raw, report: &Report) -> RedisSettings {
    let mut s = RedisSettings::default();
    let Some(raw) = root.child("redis") else {
        return s;
    };
    match c.host.as_deref().map(str::trim) {
        Some("") => raw.error_at(report, "host", "must not be empty"),
        Some(h) => s.host = h.to_string(),
        None => {}
    }
    match c.port {
        Some(0) => raw.error_at(report, "port", "must be between 1 and 65535"),
        Some(p) => s.port = p,
        None => {}
    }
    match c.timeout {
        Some(t) if t.0.is_zero() => raw.error_at(report, "timeout", "must be greater than 0"),
        Some(t) => s.timeout = t.0,
        None => {}
    }
    s.password = c.password.clone().filter(|p| !p.is_empty());
    s.database = c.database.unwrap_or(s.database);
    if let Some(p) = &c.prefix {
        s.prefix = p.clone();
    }
    s
}

/// The request head limits, nginx's defaults unless set. A limit of 0
/// would refuse every request, so it is an error.
fn http_limits(conf: Option<&HttpConf>, root: &Raw, report: &Report) -> gatehouse_protocol::Limits {
    let mut limits = gatehouse_protocol::Limits::default();
    let Some(c) = conf else { return limits };
    let http = root.child("http");
    let set = |key: &str, value: Option<usize>, field: &mut usize| match value {
        Some(0) => {
            if let Some(h) = &http {
                h.error_at(report, key, "must be greater than 0");
            }
        }
        Some(v) => *field = v,
        None => {}
    };
    set(
        "max_request_line",
        c.max_request_line.map(|s| s.0),
        &mut limits.max_request_line,
    );
    set(
        "max_header_line",
        c.max_header_line.map(|s| s.0),
        &mut limits.max_header_line,
    );
    set(
        "max_header_section",
        c.max_header_section.map(|s| s.0),
        &mut limits.max_header_section,
    );
    set("max_headers", c.max_headers, &mut limits.max_headers);
    // Above these the proxy's own parser would refuse the head with a
    // bare 400 of its own, so they are the real ceilings.
    if let Some(h) = &http {
        if limits.max_headers > MAX_HEADERS_CAP {
            h.error_at(
                report,
                "max_headers",
                format!("must be at most {MAX_HEADERS_CAP}"),
            );
        }
        let head = limits.max_request_line + limits.max_header_section;
        if head > MAX_HEAD_CAP {
            let key = if c.max_header_section.is_some() {
                "max_header_section"
            } else {
                "max_request_line"
            };
            h.error_at(
                report,
                key,
                format!(
                    "max_request_line + max_header_section must be at most {MAX_HEAD_CAP} bytes"
                ),
            );
        }
    }
    limits
}

/// RFC 9110 token characters, as header names must be.
pub fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
