//! Plugin entries. Every plugin named in a configuration must be one the
//! gateway enforces: a security plugin silently ignored would leave a hole
//! the operator believes is closed.

use crate::diag::{suggest, Report};
use crate::model::PluginConf;
use crate::raw::Raw;

/// Plugins on the roadmap: refused for now with "not supported yet".
const PLANNED: &[&str] = &[
    "jwt",
    "rate-limiting",
    "ip-restriction",
    "request-validator",
    "cors",
    "response-transformer",
    "file-log",
    "request-size-limiting",
    "waf",
    "graphql-rate-limiting",
    "graphql-proxy-cache",
];

/// Checks one plugin entry; reports anything that cannot be enforced.
pub fn check(report: &Report, raw: &Raw) {
    let Some(conf) = raw.parse::<PluginConf>(report) else {
        return;
    };
    let name = conf.name.as_str();
    if PLANNED.contains(&name) {
        raw.error_at(
            report,
            "name",
            format!("plugin `{name}` is not supported yet"),
        );
        return;
    }
    let hint = suggest(name, PLANNED)
        .map(|s| format!(", did you mean `{s}`?"))
        .unwrap_or_default();
    raw.error_at(report, "name", format!("unknown plugin `{name}`{hint}"));
}
