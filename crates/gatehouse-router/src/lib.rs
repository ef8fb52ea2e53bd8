//! Request routing for Gatehouse, free of any proxy framework.
//!
//! - [`normalize_path`]: canonical request paths, so routing cannot be evaded
//!   by alternative spellings.
//! - [`Router`]: Kong-style route matching ("most specific wins") and
//!   [`upstream_path`] for the path sent upstream.
//! - [`Pool`]: upstream targets with lock-free smooth weighted round robin.
//! - [`run_active_checks`]: active HTTP health checks flipping target health.
//!
//! Route precedence, compared in order, higher wins, then config order:
//! 1. `priority`;
//! 2. host: exact match > wildcard match > route without hosts;
//! 3. path: exact match of a plain path > regex (then `regex_priority`, then
//!    longer source) > plain prefix (then longer prefix) > route without paths;
//! 4. a route listing methods > one without.

mod balancer;
mod health;
mod host;
mod matcher;
mod path;

pub use balancer::{Pool, Target, TargetSpec};
pub use health::{parse_status_line, run_active_checks, ActiveCheck};
pub use matcher::{upstream_path, RouteMatch, RouteSpec, RouteSpecError, Router};
pub use path::{normalize_path, PathError};
