//! Gatehouse's configuration: one YAML file or a folder of them, in Kong's
//! declarative format plus a `gatehouse:` section, checked with located
//! errors and compiled into an immutable [`Plan`].
//!
//! ```text
//! conf/gatehouse.yaml:12:9: services[0].routes[0].paths[1]: invalid regex: ...
//! ```
//!
//! Every mistake found is reported, each with file, line, column and key
//! path; a configuration with any error never yields a plan.

mod address;
mod auth;
mod compile;
mod de;
mod diag;
mod entities;
mod model;
mod node;
mod plan;
mod plugins;
mod raw;
mod section;
mod waf;

pub use diag::{Diagnostic, Diagnostics, Mark};
pub use plan::*;
pub use section::parse_duration;
pub use waf::{SharedCollections, WafPolicy, DEFAULT_BODY_LIMIT};

use std::path::Path;

/// Loads and compiles the configuration at `path` (a file, or a folder
/// whose `*.yaml`/`*.yml` files are read in name order and merged).
pub fn load(path: &Path) -> Result<Plan, Diagnostics> {
    load_with_env(path, &|name| std::env::var(name).ok())
}

/// [`load`] with an explicit environment for `${VAR}` expansion.
pub fn load_with_env(
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, Diagnostics> {
    compile::load(path, env)
}

/// Compiles configuration text; `name` is used in error locations.
pub fn load_str(
    name: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, Diagnostics> {
    compile::load_sources(vec![(name.into(), text.to_string())], env)
}
