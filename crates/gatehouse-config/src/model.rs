//! The configuration as written: Kong's declarative entities, typed.
//!
//! Field names and defaults follow Kong so its declarative files load
//! unchanged. Lists of entities are kept as [`Raw`] at first so that each
//! service, route, plugin and consumer is checked on its own and every
//! mistake is reported, not just the first.

// Kong metadata (ids, tags) and keys refused as "not supported yet" are
// accepted by the model but read by nobody.
#![allow(dead_code)]

use crate::raw::Raw;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Kong's declarative format version; accepted for compatibility.
    #[serde(rename = "_format_version")]
    pub format_version: Option<String>,
    /// Kong's `_transform`; only `true` (Kong's default) is meaningful here.
    #[serde(rename = "_transform")]
    pub transform: Option<bool>,
    /// Gatehouse's own section (listeners, admin, trusted proxies, ...).
    pub gatehouse: Option<Raw>,
    #[serde(default)]
    pub services: Vec<Raw>,
    #[serde(default)]
    pub routes: Vec<Raw>,
    #[serde(default)]
    pub upstreams: Vec<Raw>,
    #[serde(default)]
    pub plugins: Vec<Raw>,
    #[serde(default)]
    pub consumers: Vec<Raw>,
}

/// Kong's Service entity, plus Gatehouse's built-in `mock://`/`echo://`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConf {
    pub name: String,
    /// Kong's unique id; accepted so `deck dump` output loads.
    pub id: Option<String>,
    pub url: Option<String>,
    pub protocol: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub path: Option<String>,
    /// Milliseconds, as in Kong.
    pub connect_timeout: Option<u64>,
    pub read_timeout: Option<u64>,
    pub write_timeout: Option<u64>,
    pub retries: Option<u32>,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Answer of a `mock://` service.
    pub mock: Option<MockConf>,
    #[serde(default)]
    pub routes: Vec<Raw>,
    #[serde(default)]
    pub plugins: Vec<Raw>,
    // Kong keys that need the TLS work; refused with "not supported yet".
    pub tls_verify: Option<IgnoredAny>,
    pub tls_verify_depth: Option<IgnoredAny>,
    pub ca_certificates: Option<IgnoredAny>,
    pub client_certificate: Option<IgnoredAny>,
}

/// What a `mock://` service answers.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockConf {
    pub status: Option<u16>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
}

/// Kong's Route entity (traditional router fields).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConf {
    pub name: Option<String>,
    pub id: Option<String>,
    /// Top-level routes name their service: `service: name` or `{name: x}`.
    pub service: Option<Raw>,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub methods: Vec<String>,
    pub protocols: Option<Vec<String>>,
    pub strip_path: Option<bool>,
    pub preserve_host: Option<bool>,
    pub regex_priority: Option<i64>,
    /// Explicit precedence (as Kong's expressions router has); higher wins.
    pub priority: Option<i64>,
    pub path_handling: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub plugins: Vec<Raw>,
    // Kong route keys not implemented yet: refused, never ignored.
    pub headers: Option<IgnoredAny>,
    pub snis: Option<IgnoredAny>,
    pub sources: Option<IgnoredAny>,
    pub destinations: Option<IgnoredAny>,
    pub https_redirect_status_code: Option<IgnoredAny>,
    pub request_buffering: Option<IgnoredAny>,
    pub response_buffering: Option<IgnoredAny>,
}

/// Kong's Upstream entity: a named pool of targets.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConf {
    pub name: String,
    pub id: Option<String>,
    pub algorithm: Option<String>,
    /// Kong's ring size; meaningless for round robin but accepted.
    pub slots: Option<u32>,
    pub host_header: Option<String>,
    pub healthchecks: Option<HealthchecksConf>,
    #[serde(default)]
    pub targets: Vec<Raw>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub hash_on: Option<IgnoredAny>,
    pub hash_fallback: Option<IgnoredAny>,
    pub client_certificate: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConf {
    pub target: String,
    pub weight: Option<u32>,
    pub id: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthchecksConf {
    pub active: Option<ActiveConf>,
    pub passive: Option<IgnoredAny>,
    pub threshold: Option<f64>,
}

/// Kong's `healthchecks.active`; intervals and timeout in seconds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveConf {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub http_path: Option<String>,
    pub timeout: Option<f64>,
    pub concurrency: Option<u32>,
    pub healthy: Option<HealthyConf>,
    pub unhealthy: Option<UnhealthyConf>,
    pub headers: Option<IgnoredAny>,
    pub https_verify_certificate: Option<IgnoredAny>,
    pub https_sni: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthyConf {
    pub interval: Option<f64>,
    pub successes: Option<u32>,
    pub http_statuses: Option<Vec<u16>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnhealthyConf {
    pub interval: Option<f64>,
    pub http_failures: Option<u32>,
    pub tcp_failures: Option<u32>,
    pub timeouts: Option<u32>,
    pub http_statuses: Option<Vec<u16>>,
}

/// A plugin instance at global, service, route or consumer level.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConf {
    pub name: String,
    pub id: Option<String>,
    pub instance_name: Option<String>,
    pub enabled: Option<bool>,
    pub config: Option<Raw>,
    pub protocols: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Scoping of a top-level plugin entry, as in Kong's declarative format.
    pub service: Option<Raw>,
    pub route: Option<Raw>,
    pub consumer: Option<Raw>,
}

/// Kong's Consumer entity.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerConf {
    pub username: Option<String>,
    pub custom_id: Option<String>,
    pub id: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub jwt_secrets: Vec<Raw>,
    #[serde(default)]
    pub plugins: Vec<Raw>,
}
