//! Plugin entries. Every plugin named in a configuration must be one the
//! gateway enforces: a security plugin silently ignored would leave a hole
//! the operator believes is closed.

use crate::auth::JwtConf;
use crate::diag::{suggest, Report};
use crate::model::PluginConf;
use crate::raw::Raw;
use crate::waf::WafConf;

/// Plugins the gateway enforces.
const SUPPORTED: &[&str] = &["jwt", "waf"];

/// Plugins on the roadmap: refused for now with "not supported yet".
const PLANNED: &[&str] = &[
    "rate-limiting",
    "ip-restriction",
    "request-validator",
    "cors",
    "response-transformer",
    "file-log",
    "request-size-limiting",
    "graphql-rate-limiting",
    "graphql-proxy-cache",
];

/// Where a plugin entry applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Top level, possibly narrowed by its own `service:` / `route:` keys.
    TopLevel {
        service: Option<String>,
        route: Option<String>,
    },
    Service(usize),
    Route(usize),
    Consumer,
}

/// A plugin entry that passed its own checks, compiled once every entity
/// is known.
pub struct Pending {
    pub raw: Raw,
    pub scope: Scope,
    pub enabled: bool,
    pub plugin: PluginKind,
}

pub enum PluginKind {
    Jwt(Box<JwtConf>),
    Waf(Box<WafConf>),
}

impl PluginKind {
    pub fn name(&self) -> &'static str {
        match self {
            PluginKind::Jwt(_) => "jwt",
            PluginKind::Waf(_) => "waf",
        }
    }
}

/// Checks one plugin entry; reports anything that cannot be enforced.
/// `scope` is `None` when the entity it sits on had errors: the entry is
/// still checked, but nothing is returned.
pub fn check(report: &Report, raw: &Raw, scope: Option<Scope>) -> Option<Pending> {
    let conf = raw.parse::<PluginConf>(report)?;
    let name = conf.name.as_str();
    if SUPPORTED.contains(&name) {
        let plugin = match name {
            "jwt" => PluginKind::Jwt(Box::new(match &conf.config {
                Some(c) => c.parse::<JwtConf>(report)?,
                None => JwtConf::default(),
            })),
            _ => PluginKind::Waf(Box::new(match &conf.config {
                Some(c) => c.parse::<WafConf>(report)?,
                None => WafConf::default(),
            })),
        };
        if scope == Some(Scope::Consumer) {
            let why = match plugin {
                PluginKind::Jwt(_) => {
                    "the `jwt` plugin authenticates consumers; it cannot be set on one"
                }
                PluginKind::Waf(_) => {
                    "the `waf` plugin applies to routes and services, not consumers"
                }
            };
            raw.error_at(report, "name", why);
            return None;
        }
        let scope = match scope? {
            Scope::TopLevel { .. } => Scope::TopLevel {
                service: scope_name(report, raw, "service")?,
                route: scope_name(report, raw, "route")?,
            },
            other => other,
        };
        if raw.node.get("consumer").is_some() {
            raw.error_at(
                report,
                "consumer",
                format!("the `{name}` plugin cannot be scoped to a consumer"),
            );
            return None;
        }
        return Some(Pending {
            raw: raw.clone(),
            scope,
            enabled: conf.enabled.unwrap_or(true),
            plugin,
        });
    }
    if PLANNED.contains(&name) {
        raw.error_at(
            report,
            "name",
            format!("plugin `{name}` is not supported yet"),
        );
        return None;
    }
    let known: Vec<&str> = SUPPORTED.iter().chain(PLANNED).copied().collect();
    let hint = suggest(name, &known)
        .map(|s| format!(", did you mean `{s}`?"))
        .unwrap_or_default();
    raw.error_at(report, "name", format!("unknown plugin `{name}`{hint}"));
    None
}

/// A top-level entry's `service:` / `route:` key: a name, or a mapping
/// with `name` (Kong's declarative format allows both).
fn scope_name(report: &Report, raw: &Raw, key: &str) -> Option<Option<String>> {
    let Some(node) = raw.node.get(key) else {
        return Some(None);
    };
    if let Some(s) = node.as_str() {
        return Some(Some(s.to_string()));
    }
    if let Some(s) = node.get("name").and_then(|n| n.as_str()) {
        return Some(Some(s.to_string()));
    }
    raw.error_at(report, key, format!("`{key}` must be a {key} name"));
    None
}
