//! Action values turned into typed data: `ctl`, disruptive actions and
//! severities, checked once here so evaluation never parses text.

use super::variables::{parse_target, VariableRef};
use crate::parse::{EngineMode, IdRange};

/// `allow` without a value stops everything; `allow:phase` only the
/// current phase; `allow:request` the request phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllowScope {
    All,
    Phase,
    Request,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disruptive {
    Deny,
    Drop,
    /// Resolved by the engine to the phase default (`CompiledRule::block_action`).
    Block,
    Pass,
    Allow(AllowScope),
    Redirect(String),
}

impl Disruptive {
    /// `Ok(None)`: not a disruptive action. `Err`: disruptive but not
    /// supported by a gateway (`pause`, `proxy`).
    pub fn from_action(name: &str, value: Option<&str>) -> Result<Option<Disruptive>, String> {
        Ok(Some(match name {
            "deny" => Disruptive::Deny,
            "drop" => Disruptive::Drop,
            "block" => Disruptive::Block,
            "pass" => Disruptive::Pass,
            "allow" => Disruptive::Allow(match value.map(str::to_ascii_lowercase).as_deref() {
                Some("phase") => AllowScope::Phase,
                Some("request") => AllowScope::Request,
                _ => AllowScope::All,
            }),
            "redirect" => Disruptive::Redirect(value.unwrap_or_default().to_string()),
            "pause" | "proxy" => return Err(format!("action `{name}` is not supported")),
            _ => return Ok(None),
        }))
    }
}

/// A `ctl` action: changes applied to the running transaction.
#[derive(Debug, Clone)]
pub enum Ctl {
    RuleEngine(EngineMode),
    RuleRemoveById(Vec<IdRange>),
    /// A regular expression matched against tags.
    RuleRemoveByTag(String),
    RuleRemoveTargetById(IdRange, VariableRef),
    RuleRemoveTargetByTag(String, VariableRef),
    RequestBodyProcessor(String),
    RequestBodyAccess(bool),
    ForceRequestBodyVariable(bool),
    AuditEngine(String),
    Other(String, String),
}

fn on_off(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        _ => Err(format!("expected On or Off, got `{v}`")),
    }
}

/// Ids as ctl writes them: `1`, `1-5`, several separated by spaces or commas.
pub fn id_ranges(text: &str) -> Result<Vec<IdRange>, String> {
    let bad = || format!("invalid rule id or range `{text}`");
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    let mut out = Vec::new();
    for part in text.split([',', ' ']).filter(|p| !p.trim().is_empty()) {
        let (start, end) = match part.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(part)?, num(part)?),
        };
        if start > end {
            return Err(bad());
        }
        out.push(IdRange { start, end });
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

impl Ctl {
    pub fn parse(text: &str) -> Result<Ctl, String> {
        let (option, value) = text
            .split_once('=')
            .ok_or_else(|| format!("ctl `{text}`: expected option=value"))?;
        let (option, value) = (option.trim(), value.trim());
        let err = |e: String| format!("ctl `{text}`: {e}");
        let target = |v: &str| -> Result<(String, VariableRef), String> {
            let (what, t) = v
                .split_once(';')
                .ok_or_else(|| err("expected `rule;TARGET`".to_string()))?;
            Ok((what.trim().to_string(), parse_target(t).map_err(err)?))
        };
        Ok(match option.to_ascii_lowercase().as_str() {
            "ruleengine" => Ctl::RuleEngine(match value.to_ascii_lowercase().as_str() {
                "on" => EngineMode::On,
                "off" => EngineMode::Off,
                "detectiononly" => EngineMode::DetectionOnly,
                _ => return Err(err(format!("unknown engine mode `{value}`"))),
            }),
            "ruleremovebyid" => Ctl::RuleRemoveById(id_ranges(value).map_err(err)?),
            "ruleremovebytag" => Ctl::RuleRemoveByTag(value.to_string()),
            "ruleremovetargetbyid" => {
                let (ids, t) = target(value)?;
                let range = match id_ranges(&ids).map_err(err)?.as_slice() {
                    [one] => *one,
                    _ => return Err(err("expected one id or range".to_string())),
                };
                Ctl::RuleRemoveTargetById(range, t)
            }
            "ruleremovetargetbytag" => {
                let (tag, t) = target(value)?;
                Ctl::RuleRemoveTargetByTag(tag, t)
            }
            "requestbodyprocessor" => Ctl::RequestBodyProcessor(value.to_ascii_uppercase()),
            "requestbodyaccess" => Ctl::RequestBodyAccess(on_off(value).map_err(err)?),
            "forcerequestbodyvariable" => {
                Ctl::ForceRequestBodyVariable(on_off(value).map_err(err)?)
            }
            "auditengine" => Ctl::AuditEngine(value.to_string()),
            _ => Ctl::Other(option.to_string(), value.to_string()),
        })
    }
}

/// `0`..`7` or a syslog name (`CRITICAL` is 2).
pub fn severity(v: &str) -> Result<u8, String> {
    crate::parse::severity_level(v).ok_or_else(|| format!("invalid severity `{v}`"))
}
