//! Action lists: `id:1,phase:2,t:none,msg:'a, b',setvar:'tx.x=+1'`.

use super::ast::Action;
use super::lexer::{single_quoted_end, unescape_single};
use crate::collection::SetVar;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Arity {
    None,
    Optional,
    Required,
}

/// ModSecurity 3's actions with whether they take a value.
const ACTIONS: &[(&str, Arity)] = &[
    ("accuracy", Arity::Required),
    ("allow", Arity::Optional),
    ("append", Arity::Required),
    ("auditlog", Arity::None),
    ("block", Arity::None),
    ("capture", Arity::None),
    ("chain", Arity::None),
    ("ctl", Arity::Required),
    ("deny", Arity::None),
    ("deprecatevar", Arity::Required),
    ("drop", Arity::None),
    ("exec", Arity::Required),
    ("expirevar", Arity::Required),
    ("id", Arity::Required),
    ("initcol", Arity::Required),
    ("log", Arity::None),
    ("logdata", Arity::Required),
    ("maturity", Arity::Required),
    ("msg", Arity::Required),
    ("multiMatch", Arity::None),
    ("noauditlog", Arity::None),
    ("nolog", Arity::None),
    ("pass", Arity::None),
    ("pause", Arity::Required),
    ("phase", Arity::Required),
    ("prepend", Arity::Required),
    ("proxy", Arity::Required),
    ("redirect", Arity::Required),
    ("rev", Arity::Required),
    ("sanitiseArg", Arity::Required),
    ("sanitiseMatched", Arity::None),
    ("sanitiseMatchedBytes", Arity::Optional),
    ("sanitiseRequestHeader", Arity::Required),
    ("sanitiseResponseHeader", Arity::Required),
    ("setenv", Arity::Required),
    ("setrsc", Arity::Required),
    ("setsid", Arity::Required),
    ("setuid", Arity::Required),
    ("setvar", Arity::Required),
    ("severity", Arity::Required),
    ("skip", Arity::Required),
    ("skipAfter", Arity::Required),
    ("status", Arity::Required),
    ("t", Arity::Required),
    ("tag", Arity::Required),
    ("ver", Arity::Required),
    ("xmlns", Arity::Required),
];

/// Actions that decide the fate of the transaction.
pub(crate) const DISRUPTIVE: &[&str] = &[
    "allow", "block", "deny", "drop", "pass", "pause", "proxy", "redirect",
];

const TRANSFORMATIONS: &[&str] = &[
    "base64Decode",
    "base64DecodeExt",
    "base64Encode",
    "cmdLine",
    "compressWhitespace",
    "cssDecode",
    "escapeSeqDecode",
    "hexDecode",
    "hexEncode",
    "htmlEntityDecode",
    "jsDecode",
    "length",
    "lowercase",
    "md5",
    "none",
    "normalizePath",
    "normalizePathWin",
    "parityEven7bit",
    "parityOdd7bit",
    "parityZero7bit",
    "removeComments",
    "removeCommentsChar",
    "removeNulls",
    "removeWhitespace",
    "replaceComments",
    "replaceNulls",
    "sha1",
    "sqlHexDecode",
    "trim",
    "trimLeft",
    "trimRight",
    "uppercase",
    "urlDecode",
    "urlDecodeUni",
    "urlEncode",
    "utf8toUnicode",
];

/// `ctl` options ModSecurity 3 implements.
const CTL_OPTIONS: &[&str] = &[
    "auditEngine",
    "auditLogParts",
    "forceRequestBodyVariable",
    "requestBodyAccess",
    "requestBodyProcessor",
    "ruleEngine",
    "ruleRemoveById",
    "ruleRemoveByTag",
    "ruleRemoveTargetById",
    "ruleRemoveTargetByTag",
];

/// `0` to `7` or a syslog name (`CRITICAL` is 2), as ModSecurity writes
/// severities.
pub(crate) fn severity_level(v: &str) -> Option<u8> {
    if let [d @ b'0'..=b'7'] = v.as_bytes() {
        return Some(d - b'0');
    }
    SEVERITIES
        .iter()
        .position(|s| s.eq_ignore_ascii_case(v))
        .and_then(|p| u8::try_from(p).ok())
}

const SEVERITIES: &[&str] = &[
    "EMERGENCY",
    "ALERT",
    "CRITICAL",
    "ERROR",
    "WARNING",
    "NOTICE",
    "INFO",
    "DEBUG",
];

/// Parses and checks an action list; every bad action is reported.
pub(crate) fn parse_actions(text: &str) -> Result<Vec<Action>, Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let mut actions = Vec::new();
    let mut errors = Vec::new();
    let mut i = skip_spaces(&chars, 0);
    if i == chars.len() {
        return Ok(actions);
    }
    loop {
        let name_start = i;
        while i < chars.len() && chars[i] != ':' && chars[i] != ',' {
            i += 1;
        }
        let name: String = chars[name_start..i]
            .iter()
            .collect::<String>()
            .trim()
            .to_string();
        let mut value = None;
        if chars.get(i) == Some(&':') {
            i = skip_spaces(&chars, i + 1);
            if chars.get(i) == Some(&'\'') {
                let Some(end) = single_quoted_end(&chars, i + 1) else {
                    errors.push(format!(
                        "unterminated single quote in the value of `{name}`"
                    ));
                    return Err(errors);
                };
                value = Some(unescape_single(&chars[i + 1..end]));
                i = skip_spaces(&chars, end + 1);
                if i < chars.len() && chars[i] != ',' {
                    errors.push(format!(
                        "unexpected text after the quoted value of `{name}`"
                    ));
                    while i < chars.len() && chars[i] != ',' {
                        i += 1;
                    }
                }
            } else {
                let start = i;
                while i < chars.len() && chars[i] != ',' {
                    i += 1;
                }
                let raw: String = chars[start..i].iter().collect();
                let raw = raw.trim_end();
                if !raw.is_empty() {
                    value = Some(raw.to_string());
                }
            }
        }
        if name.is_empty() {
            errors.push("empty action in list".to_string());
        } else {
            match check_action(&name, value) {
                Ok(action) => actions.push(action),
                Err(e) => errors.push(e),
            }
        }
        if i >= chars.len() {
            break;
        }
        // At a comma.
        i = skip_spaces(&chars, i + 1);
        if i >= chars.len() {
            errors.push("empty action at the end of the list".to_string());
            break;
        }
    }
    if errors.is_empty() {
        Ok(actions)
    } else {
        Err(errors)
    }
}

fn skip_spaces(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    i
}

fn find_ci<'a>(list: &[&'a str], name: &str) -> Option<&'a str> {
    list.iter().copied().find(|n| n.eq_ignore_ascii_case(name))
}

/// Canonicalises the name, checks the value and normalises `phase` and `t`.
fn check_action(written: &str, value: Option<String>) -> Result<Action, String> {
    let Some(&(name, arity)) = ACTIONS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(written))
    else {
        return Err(format!("unknown action `{written}`"));
    };
    let value = match (arity, value) {
        (Arity::Required, None) => return Err(format!("action `{name}` requires a value")),
        (Arity::None, Some(_)) => return Err(format!("action `{name}` takes no value")),
        (_, value) => value,
    };
    let value = match value {
        Some(v) => Some(check_value(name, v)?),
        None => None,
    };
    Ok(Action {
        name: name.to_string(),
        value,
    })
}

fn is_number(v: &str) -> bool {
    !v.is_empty() && v.len() <= 19 && v.bytes().all(|b| b.is_ascii_digit())
}

fn check_value(name: &str, v: String) -> Result<String, String> {
    match name {
        "id" => match v.parse::<u64>() {
            Ok(n) if n > 0 && is_number(&v) => Ok(v),
            _ => Err(format!("invalid id `{v}`: expected a positive integer")),
        },
        "phase" => {
            let digit = match v.to_ascii_lowercase().as_str() {
                "1" | "2" | "3" | "4" | "5" => v.clone(),
                "request" => "2".to_string(),
                "response" => "4".to_string(),
                "logging" => "5".to_string(),
                _ => {
                    return Err(format!(
                        "invalid phase `{v}`: expected 1 to 5, request, response or logging"
                    ))
                }
            };
            Ok(digit)
        }
        "t" => find_transformation(&v)
            .map(str::to_string)
            .ok_or_else(|| format!("unknown transformation `{v}`")),
        "severity" => match severity_level(&v) {
            Some(_) => Ok(v),
            None => Err(format!(
                "invalid severity `{v}`: expected 0 to 7 or EMERGENCY ... DEBUG"
            )),
        },
        "status" => match v.parse::<u16>() {
            Ok(100..=599) if is_number(&v) => Ok(v),
            _ => Err(format!(
                "invalid status `{v}`: expected an HTTP status code"
            )),
        },
        "skip" => match v.parse::<u32>() {
            Ok(n) if n > 0 && is_number(&v) => Ok(v),
            _ => Err(format!("invalid skip `{v}`: expected a positive integer")),
        },
        "accuracy" | "maturity" => {
            if is_number(&v) {
                Ok(v)
            } else {
                Err(format!("invalid {name} `{v}`: expected a number"))
            }
        }
        "allow" => match v.to_ascii_lowercase().as_str() {
            "phase" | "request" => Ok(v),
            _ => Err(format!("invalid allow `{v}`: expected phase or request")),
        },
        "setvar" => match SetVar::parse(&v) {
            Ok(_) => Ok(v),
            Err(e) => Err(e.0),
        },
        "ctl" => check_ctl(&v),
        // An explicit `''` is text too; elsewhere an empty value is a mistake.
        "msg" | "logdata" | "tag" | "rev" | "ver" => Ok(v),
        _ if v.is_empty() => Err(format!("action `{name}` requires a value")),
        _ => Ok(v),
    }
}

fn find_transformation(v: &str) -> Option<&'static str> {
    // ModSecurity accepts the British spellings of the path normalisers.
    let american = if v.eq_ignore_ascii_case("normalisePath") {
        "normalizePath"
    } else if v.eq_ignore_ascii_case("normalisePathWin") {
        "normalizePathWin"
    } else {
        v
    };
    find_ci(TRANSFORMATIONS, american)
}

/// `option=value`; the option is returned in its canonical spelling.
fn check_ctl(v: &str) -> Result<String, String> {
    let Some((option, value)) = v.split_once('=') else {
        return Err(format!("ctl `{v}`: expected `option=value`"));
    };
    let Some(option) = find_ci(CTL_OPTIONS, option.trim()) else {
        return Err(format!("ctl `{v}`: unknown option `{}`", option.trim()));
    };
    let value = value.trim();
    let allowed: &[&str] = match option {
        "ruleEngine" => &["On", "Off", "DetectionOnly"],
        "auditEngine" => &["On", "Off", "RelevantOnly"],
        "requestBodyAccess" | "forceRequestBodyVariable" => &["On", "Off"],
        "requestBodyProcessor" => &["URLENCODED", "MULTIPART", "XML", "JSON"],
        _ => &[],
    };
    if !allowed.is_empty() && find_ci(allowed, value).is_none() {
        return Err(format!(
            "ctl `{v}`: `{option}` expects one of {}",
            allowed.join(", ")
        ));
    }
    let needs_target = matches!(option, "ruleRemoveTargetById" | "ruleRemoveTargetByTag");
    if value.is_empty() || (needs_target && !value.contains(';')) {
        let form = if needs_target {
            "rule;TARGET"
        } else {
            "a value"
        };
        return Err(format!("ctl `{v}`: `{option}` expects {form}"));
    }
    Ok(format!("{option}={value}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn a(name: &str, value: Option<&str>) -> Action {
        Action::new(name, value)
    }

    #[test]
    fn quoting_and_normalisation() {
        let got = parse_actions(
            "ID:'7', phase:request,T:LowerCase,msg:'a, \\'b\\' \\d',\
             setvar:'tx.x=+%{tx.y}',ctl:ruleremovetargetbyid=942100;ARGS:q,skipAfter:END,chain",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                a("id", Some("7")),
                a("phase", Some("2")),
                a("t", Some("lowercase")),
                a("msg", Some("a, 'b' \\d")),
                a("setvar", Some("tx.x=+%{tx.y}")),
                a("ctl", Some("ruleRemoveTargetById=942100;ARGS:q")),
                a("skipAfter", Some("END")),
                a("chain", None),
            ]
        );
        assert_eq!(parse_actions("  ").unwrap(), vec![]);
        assert_eq!(
            parse_actions("t:normalisePath,msg:''").unwrap(),
            vec![a("t", Some("normalizePath")), a("msg", Some(""))]
        );
    }

    #[test]
    fn errors() {
        let err = |s: &str| parse_actions(s).unwrap_err();
        assert_eq!(
            err("id:x"),
            vec!["invalid id `x`: expected a positive integer"]
        );
        assert_eq!(
            err("id:0"),
            vec!["invalid id `0`: expected a positive integer"]
        );
        assert_eq!(
            err("phase:6"),
            vec!["invalid phase `6`: expected 1 to 5, request, response or logging"]
        );
        assert_eq!(err("msg"), vec!["action `msg` requires a value"]);
        assert_eq!(err("t:"), vec!["action `t` requires a value"]);
        assert_eq!(err("deny:1"), vec!["action `deny` takes no value"]);
        assert_eq!(err("foo"), vec!["unknown action `foo`"]);
        assert_eq!(err("t:bogus"), vec!["unknown transformation `bogus`"]);
        assert_eq!(err("id:1,"), vec!["empty action at the end of the list"]);
        assert_eq!(err("id:1,,deny"), vec!["empty action in list"]);
        assert_eq!(
            err("msg:'abc"),
            vec!["unterminated single quote in the value of `msg`"]
        );
        assert_eq!(
            err("msg:'a'b"),
            vec!["unexpected text after the quoted value of `msg`"]
        );
        assert_eq!(
            err("setvar:x=1"),
            vec!["setvar `x=1`: expected `collection.variable`"]
        );
        assert_eq!(
            err("setvar:foo.x=1"),
            vec!["setvar `foo.x=1`: unknown collection `foo`"]
        );
        assert_eq!(
            err("setvar:!tx.a=1"),
            vec!["setvar `!tx.a=1`: a deletion (!) takes no value"]
        );
        assert_eq!(err("ctl:foo=1"), vec!["ctl `foo=1`: unknown option `foo`"]);
        assert_eq!(
            err("ctl:ruleEngine=maybe"),
            vec!["ctl `ruleEngine=maybe`: `ruleEngine` expects one of On, Off, DetectionOnly"]
        );
        assert_eq!(
            err("ctl:ruleRemoveTargetById=1"),
            vec!["ctl `ruleRemoveTargetById=1`: `ruleRemoveTargetById` expects rule;TARGET"]
        );
        assert_eq!(
            err("status:99"),
            vec!["invalid status `99`: expected an HTTP status code"]
        );
        assert_eq!(err("foo,bar").len(), 2);
    }
}
