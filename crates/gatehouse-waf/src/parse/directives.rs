//! Every directive other than `SecRule`, `SecAction`, `SecDefaultAction` and
//! `Include` (those need the parser's state): what it is and its arguments.

use super::actions::parse_actions;
use super::ast::{Directive, EngineMode, IdRange};
use super::lexer::Arg;
use super::variables::parse_variables;

/// How a directive is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Rule,
    Action,
    DefaultAction,
    Include,
    /// Parsed here into its own `Directive`.
    Special,
    Setting(Args),
    Ignored,
    /// Recognised, but running it would silently weaken the rule set.
    Unsupported(&'static str),
}

/// What a setting's arguments must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Args {
    OnOff,
    Number,
    /// One of the listed words, any case.
    OneOf(&'static [&'static str]),
    /// One character.
    Char,
    /// Between `min` and `max` arguments of any text.
    Any(usize, usize),
}

const DIRECTIVES: &[(&str, Kind)] = &[
    ("SecRule", Kind::Rule),
    ("SecAction", Kind::Action),
    ("SecDefaultAction", Kind::DefaultAction),
    ("Include", Kind::Include),
    ("SecMarker", Kind::Special),
    ("SecRuleEngine", Kind::Special),
    ("SecRuleRemoveById", Kind::Special),
    ("SecRuleRemoveByTag", Kind::Special),
    ("SecRuleRemoveByMsg", Kind::Special),
    ("SecRuleUpdateTargetById", Kind::Special),
    ("SecRuleUpdateTargetByTag", Kind::Special),
    ("SecRuleUpdateTargetByMsg", Kind::Special),
    ("SecRuleUpdateActionById", Kind::Special),
    ("SecComponentSignature", Kind::Special),
    ("SecRequestBodyAccess", Kind::Setting(Args::OnOff)),
    ("SecResponseBodyAccess", Kind::Setting(Args::OnOff)),
    ("SecXmlExternalEntity", Kind::Setting(Args::OnOff)),
    ("SecRequestBodyLimit", Kind::Setting(Args::Number)),
    ("SecRequestBodyNoFilesLimit", Kind::Setting(Args::Number)),
    ("SecRequestBodyInMemoryLimit", Kind::Setting(Args::Number)),
    ("SecRequestBodyJsonDepthLimit", Kind::Setting(Args::Number)),
    ("SecResponseBodyLimit", Kind::Setting(Args::Number)),
    ("SecArgumentsLimit", Kind::Setting(Args::Number)),
    ("SecCollectionTimeout", Kind::Setting(Args::Number)),
    ("SecPcreMatchLimit", Kind::Setting(Args::Number)),
    ("SecPcreMatchLimitRecursion", Kind::Setting(Args::Number)),
    ("SecUploadFileLimit", Kind::Setting(Args::Number)),
    ("SecRequestBodyLimitAction", Kind::Setting(LIMIT_ACTIONS)),
    ("SecResponseBodyLimitAction", Kind::Setting(LIMIT_ACTIONS)),
    (
        "SecResponseBodyMimeType",
        Kind::Setting(Args::Any(1, usize::MAX)),
    ),
    (
        "SecResponseBodyMimeTypesClear",
        Kind::Setting(Args::Any(0, 0)),
    ),
    ("SecArgumentSeparator", Kind::Setting(Args::Char)),
    ("SecCookieV0Separator", Kind::Setting(Args::Char)),
    ("SecUnicodeMapFile", Kind::Setting(Args::Any(1, 2))),
    ("SecHttpBlKey", Kind::Setting(Args::Any(1, 1))),
    ("SecWebAppId", Kind::Setting(Args::Any(1, 1))),
    ("SecAuditEngine", Kind::Ignored),
    ("SecAuditLog", Kind::Ignored),
    ("SecAuditLog2", Kind::Ignored),
    ("SecAuditLogDirMode", Kind::Ignored),
    ("SecAuditLogFileMode", Kind::Ignored),
    ("SecAuditLogFormat", Kind::Ignored),
    ("SecAuditLogParts", Kind::Ignored),
    ("SecAuditLogRelevantStatus", Kind::Ignored),
    ("SecAuditLogStorageDir", Kind::Ignored),
    ("SecAuditLogType", Kind::Ignored),
    ("SecDebugLog", Kind::Ignored),
    ("SecDebugLogLevel", Kind::Ignored),
    ("SecDataDir", Kind::Ignored),
    ("SecTmpDir", Kind::Ignored),
    ("SecUploadDir", Kind::Ignored),
    ("SecUploadKeepFiles", Kind::Ignored),
    ("SecUploadFileMode", Kind::Ignored),
    ("SecTmpSaveUploadedFiles", Kind::Ignored),
    ("SecStatusEngine", Kind::Ignored),
    ("SecServerSignature", Kind::Ignored),
    ("SecGeoLookupDb", Kind::Ignored),
    ("SecGsbLookupDb", Kind::Ignored),
    ("SecCookieFormat", Kind::Ignored),
    ("SecConnEngine", Kind::Ignored),
    ("SecCacheTransformations", Kind::Ignored),
    ("SecChrootDir", Kind::Ignored),
    ("SecContentInjection", Kind::Ignored),
    ("SecDisableBackendCompression", Kind::Ignored),
    ("SecGuardianLog", Kind::Ignored),
    ("SecInterceptOnError", Kind::Ignored),
    ("SecConnReadStateLimit", Kind::Ignored),
    ("SecConnWriteStateLimit", Kind::Ignored),
    ("SecSensorId", Kind::Ignored),
    ("SecRuleInheritance", Kind::Ignored),
    ("SecRulePerfTime", Kind::Ignored),
    ("SecStreamInBodyInspection", Kind::Ignored),
    ("SecStreamOutBodyInspection", Kind::Ignored),
    ("SecHashEngine", Kind::Ignored),
    ("SecHashKey", Kind::Ignored),
    ("SecHashParam", Kind::Ignored),
    ("SecHashMethodRx", Kind::Ignored),
    ("SecHashMethodPm", Kind::Ignored),
    ("SecRemoteRulesFailAction", Kind::Ignored),
    (
        "SecRuleScript",
        Kind::Unsupported("Lua rules (SecRuleScript) are not supported"),
    ),
    (
        "SecRemoteRules",
        Kind::Unsupported("SecRemoteRules is not supported: download the rules and Include them"),
    ),
];

const LIMIT_ACTIONS: Args = Args::OneOf(&["Reject", "ProcessPartial"]);

/// The canonical name and handling of a directive, found without case.
pub(crate) fn lookup(written: &str) -> Option<(&'static str, Kind)> {
    DIRECTIVES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(written))
        .copied()
}

/// Parses a `Kind::Special` or `Kind::Setting` directive.
pub(crate) fn parse_simple(
    name: &'static str,
    kind: Kind,
    args: &[Arg],
) -> Result<Directive, Vec<String>> {
    let one = |what: &str| match args {
        [a] if !a.text.is_empty() => Ok(a.text.clone()),
        _ => Err(vec![format!("{name} expects one {what}")]),
    };
    match (name, kind) {
        (_, Kind::Setting(shape)) => check_setting(name, shape, args).map_err(|e| vec![e]),
        ("SecMarker", _) => one("marker name").map(Directive::Marker),
        ("SecComponentSignature", _) => one("signature").map(Directive::ComponentSignature),
        ("SecRuleRemoveByTag", _) => one("tag pattern").map(Directive::RemoveByTag),
        ("SecRuleRemoveByMsg", _) => one("message pattern").map(Directive::RemoveByMsg),
        ("SecRuleEngine", _) => {
            let mode = one("mode")?;
            let mode = match mode.to_ascii_lowercase().as_str() {
                "on" => EngineMode::On,
                "off" => EngineMode::Off,
                "detectiononly" => EngineMode::DetectionOnly,
                _ => {
                    return Err(vec![format!(
                        "SecRuleEngine expects On, Off or DetectionOnly, not `{mode}`"
                    )])
                }
            };
            Ok(Directive::RuleEngine(mode))
        }
        ("SecRuleRemoveById", _) => {
            if args.is_empty() {
                return Err(vec![format!("{name} expects rule ids or ranges")]);
            }
            let mut ids = Vec::new();
            for arg in args {
                ids.extend(parse_id_ranges(name, &arg.text).map_err(|e| vec![e])?);
            }
            Ok(Directive::RemoveById(ids))
        }
        ("SecRuleUpdateTargetById", _) => {
            let (ids, targets, replaced) = match args {
                [i, t] => (i, t, None),
                [i, t, r] => (i, t, Some(r.text.clone())),
                _ => {
                    return Err(vec![format!(
                        "{name} expects rule ids, targets and optionally a target to replace"
                    )])
                }
            };
            let ids = parse_id_ranges(name, &ids.text);
            let targets = parse_variables(&targets.text, true);
            match (ids, targets) {
                (Ok(ids), Ok(targets)) => Ok(Directive::UpdateTargetById {
                    ids,
                    targets,
                    replaced,
                }),
                (ids, targets) => Err(ids.err().into_iter().chain(targets.err()).collect()),
            }
        }
        ("SecRuleUpdateTargetByTag" | "SecRuleUpdateTargetByMsg", _) => {
            let [key, targets] = args else {
                return Err(vec![format!("{name} expects a pattern and targets")]);
            };
            let targets = parse_variables(&targets.text, true).map_err(|e| vec![e])?;
            let key = key.text.clone();
            Ok(if name == "SecRuleUpdateTargetByTag" {
                Directive::UpdateTargetByTag { tag: key, targets }
            } else {
                Directive::UpdateTargetByMsg { msg: key, targets }
            })
        }
        ("SecRuleUpdateActionById", _) => {
            let [id, actions] = args else {
                return Err(vec![format!("{name} expects a rule id and actions")]);
            };
            let id = match id.text.parse::<u64>() {
                Ok(n) if n > 0 => n,
                _ => return Err(vec![format!("{name}: invalid rule id `{}`", id.text)]),
            };
            let actions = parse_actions(&actions.text)?;
            let forbidden: Vec<String> = actions
                .iter()
                .filter(|a| matches!(a.name.as_str(), "id" | "phase" | "chain"))
                .map(|a| format!("{name} cannot change `{}`", a.name))
                .collect();
            if forbidden.is_empty() {
                Ok(Directive::UpdateActionById { id, actions })
            } else {
                Err(forbidden)
            }
        }
        _ => Err(vec![format!("{name} is not handled here")]),
    }
}

fn check_setting(name: &'static str, shape: Args, args: &[Arg]) -> Result<Directive, String> {
    let values: Vec<String> = args.iter().map(|a| a.text.clone()).collect();
    let single = match values.as_slice() {
        [v] => Some(v.as_str()),
        _ => None,
    };
    let ok = match shape {
        Args::OnOff => {
            single.is_some_and(|v| ["on", "off"].contains(&v.to_ascii_lowercase().as_str()))
        }
        Args::Number => {
            single.is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        }
        Args::OneOf(words) => {
            single.is_some_and(|v| words.iter().any(|w| w.eq_ignore_ascii_case(v)))
        }
        Args::Char => single.is_some_and(|v| v.chars().count() == 1),
        Args::Any(min, max) => (min..=max).contains(&values.len()),
    };
    if ok {
        return Ok(Directive::Setting {
            name: name.to_string(),
            args: values,
        });
    }
    let expected = match shape {
        Args::OnOff => "On or Off".to_string(),
        Args::Number => "a number".to_string(),
        Args::OneOf(words) => words.join(" or "),
        Args::Char => "a single character".to_string(),
        Args::Any(0, 0) => "no argument".to_string(),
        Args::Any(1, 1) => "one argument".to_string(),
        Args::Any(min, usize::MAX) => format!("at least {min} argument(s)"),
        Args::Any(min, max) => format!("{min} to {max} arguments"),
    };
    Err(format!(
        "{name} expects {expected}, not `{}`",
        values.join(" ")
    ))
}

/// `1`, `100-200`, and comma-separated lists of them.
pub(crate) fn parse_id_ranges(name: &str, text: &str) -> Result<Vec<IdRange>, String> {
    let invalid = || format!("{name}: invalid rule id or range `{text}`");
    let number = |s: &str| match s.trim().parse::<u64>() {
        Ok(n) if n > 0 && !s.trim().starts_with('+') => Ok(n),
        _ => Err(invalid()),
    };
    let mut ranges = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let range = match part.split_once('-') {
            Some((a, b)) => {
                let (start, end) = (number(a)?, number(b)?);
                if start > end {
                    return Err(invalid());
                }
                IdRange { start, end }
            }
            None => {
                let id = number(part)?;
                IdRange { start: id, end: id }
            }
        };
        ranges.push(range);
    }
    if ranges.is_empty() {
        return Err(invalid());
    }
    Ok(ranges)
}
