//! Target lists: `ARGS|!ARGS:foo|&TX:x|REQUEST_COOKIES:/^_ga/|XML:/*`.

use super::ast::{Selector, Variable};
use super::lexer::{single_quoted_end, unescape_single};

/// Every collection ModSecurity 3 knows; anything else is a typo that would
/// otherwise silently never match.
const KNOWN: &[&str] = &[
    "ARGS",
    "ARGS_COMBINED_SIZE",
    "ARGS_GET",
    "ARGS_GET_NAMES",
    "ARGS_NAMES",
    "ARGS_POST",
    "ARGS_POST_NAMES",
    "AUTH_TYPE",
    "DURATION",
    "ENV",
    "FILES",
    "FILES_COMBINED_SIZE",
    "FILES_NAMES",
    "FILES_SIZES",
    "FILES_TMPNAMES",
    "FILES_TMP_CONTENT",
    "FULL_REQUEST",
    "FULL_REQUEST_LENGTH",
    "GEO",
    "GLOBAL",
    "HIGHEST_SEVERITY",
    "INBOUND_DATA_ERROR",
    "IP",
    "MATCHED_VAR",
    "MATCHED_VARS",
    "MATCHED_VARS_NAMES",
    "MATCHED_VAR_NAME",
    "MODSEC_BUILD",
    "MSC_PCRE_ERROR",
    "MSC_PCRE_LIMITS_EXCEEDED",
    "MULTIPART_BOUNDARY_QUOTED",
    "MULTIPART_BOUNDARY_WHITESPACE",
    "MULTIPART_CRLF_LF_LINES",
    "MULTIPART_DATA_AFTER",
    "MULTIPART_DATA_BEFORE",
    "MULTIPART_FILENAME",
    "MULTIPART_FILE_LIMIT_EXCEEDED",
    "MULTIPART_HEADER_FOLDING",
    "MULTIPART_INVALID_HEADER_FOLDING",
    "MULTIPART_INVALID_PART",
    "MULTIPART_INVALID_QUOTING",
    "MULTIPART_LF_LINE",
    "MULTIPART_MISSING_SEMICOLON",
    "MULTIPART_NAME",
    "MULTIPART_PART_HEADERS",
    "MULTIPART_SEMICOLON_MISSING",
    "MULTIPART_STRICT_ERROR",
    "MULTIPART_UNMATCHED_BOUNDARY",
    "OUTBOUND_DATA_ERROR",
    "PATH_INFO",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_PORT",
    "REMOTE_USER",
    "REQBODY_ERROR",
    "REQBODY_ERROR_MSG",
    "REQBODY_PROCESSOR",
    "REQBODY_PROCESSOR_ERROR",
    "REQBODY_PROCESSOR_ERROR_MSG",
    "REQUEST_BASENAME",
    "REQUEST_BODY",
    "REQUEST_BODY_LENGTH",
    "REQUEST_COOKIES",
    "REQUEST_COOKIES_NAMES",
    "REQUEST_FILENAME",
    "REQUEST_HEADERS",
    "REQUEST_HEADERS_NAMES",
    "REQUEST_LINE",
    "REQUEST_METHOD",
    "REQUEST_PROTOCOL",
    "REQUEST_URI",
    "REQUEST_URI_RAW",
    "RESOURCE",
    "RESPONSE_BODY",
    "RESPONSE_CONTENT_LENGTH",
    "RESPONSE_CONTENT_TYPE",
    "RESPONSE_HEADERS",
    "RESPONSE_HEADERS_NAMES",
    "RESPONSE_PROTOCOL",
    "RESPONSE_STATUS",
    "RULE",
    "SERVER_ADDR",
    "SERVER_NAME",
    "SERVER_PORT",
    "SESSION",
    "SESSIONID",
    "STATUS",
    "STATUS_LINE",
    "TIME",
    "TIME_DAY",
    "TIME_EPOCH",
    "TIME_HOUR",
    "TIME_MIN",
    "TIME_MON",
    "TIME_SEC",
    "TIME_WDAY",
    "TIME_YEAR",
    "TX",
    "UNIQUE_ID",
    "URLENCODED_ERROR",
    "USER",
    "USERID",
    "WEBAPPID",
    "WEBSERVER_ERROR_LOG",
    "XML",
];

/// Parses a `|`-separated target list. `comma` also accepts `,` as a
/// separator, as ModSecurity does in `SecRuleUpdateTarget*`.
pub(crate) fn parse_variables(text: &str, comma: bool) -> Result<Vec<Variable>, String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Err("empty variable list".to_string());
    }
    let is_sep = |c: char| c == '|' || (comma && c == ',');
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let (variable, end) = parse_one(&chars, i, &is_sep)?;
        out.push(variable);
        i = end;
        if i >= chars.len() {
            return Ok(out);
        }
        // parse_one stops only at the end or at a separator.
        i += 1;
        if i >= chars.len() {
            return Err(format!("empty variable at the end of `{text}`"));
        }
    }
}

fn parse_one(
    chars: &[char],
    start: usize,
    is_sep: &dyn Fn(char) -> bool,
) -> Result<(Variable, usize), String> {
    let mut i = start;
    let mut exclude = false;
    let mut count = false;
    while let Some(&c) = chars.get(i) {
        match c {
            '!' if !exclude => exclude = true,
            '&' if !count => count = true,
            _ => break,
        }
        i += 1;
    }
    let name_start = i;
    while i < chars.len() && !is_sep(chars[i]) && chars[i] != ':' && chars[i] != '.' {
        i += 1;
    }
    let raw: String = chars[name_start..i].iter().collect();
    if raw.is_empty() {
        let written: String = chars[start..i].iter().collect();
        return Err(if written.is_empty() {
            "empty variable in list".to_string()
        } else {
            format!("missing variable name after `{written}`")
        });
    }
    if exclude && count {
        return Err(format!(
            "variable `{raw}` cannot be both excluded (!) and counted (&)"
        ));
    }
    if !raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "invalid variable name `{raw}`: only letters, digits and `_` are allowed"
        ));
    }
    let name = raw.to_ascii_uppercase();
    if !KNOWN.contains(&name.as_str()) {
        return Err(format!("unknown variable `{raw}`"));
    }
    let mut selector = None;
    if i < chars.len() && !is_sep(chars[i]) {
        // A `:` or `.` introduces the selector.
        let (sel, end) = parse_selector(chars, i + 1, &name, is_sep)?;
        selector = Some(sel);
        i = end;
    }
    let variable = Variable {
        name,
        selector,
        count,
        exclude,
    };
    Ok((variable, i))
}

fn parse_selector(
    chars: &[char],
    start: usize,
    name: &str,
    is_sep: &dyn Fn(char) -> bool,
) -> Result<(Selector, usize), String> {
    let xml = name == "XML";
    match chars.get(start) {
        Some('\'') => {
            let end = single_quoted_end(chars, start + 1)
                .ok_or_else(|| format!("unterminated single quote in the selector of `{name}`"))?;
            if let Some(&c) = chars.get(end + 1) {
                if !is_sep(c) {
                    return Err(format!(
                        "unexpected `{c}` after the quoted selector of `{name}`"
                    ));
                }
            }
            let text = unescape_single(&chars[start + 1..end]);
            let selector = match text.strip_prefix('/').and_then(|t| t.strip_suffix('/')) {
                Some(pattern) if !xml => regex_selector(pattern, name)?,
                _ if text.is_empty() => return Err(format!("empty selector after `{name}:`")),
                _ => Selector::Name(text),
            };
            Ok((selector, end + 1))
        }
        Some('/') if !xml => {
            // The closing slash is the one followed by a separator or the
            // end, so a pattern may hold `|` and escaped slashes.
            let mut j = start + 1;
            while j < chars.len() {
                match chars[j] {
                    '\\' => j += 2,
                    '/' if chars.get(j + 1).is_none_or(|&c| is_sep(c)) => {
                        let pattern: String = chars[start + 1..j].iter().collect();
                        return Ok((regex_selector(&pattern, name)?, j + 1));
                    }
                    _ => j += 1,
                }
            }
            let written: String = chars[start..].iter().take_while(|&&c| !is_sep(c)).collect();
            Err(format!(
                "regex selector `{written}` of `{name}` must end with `/`"
            ))
        }
        _ => {
            let mut j = start;
            while j < chars.len() && !is_sep(chars[j]) {
                j += 1;
            }
            if j == start {
                return Err(format!("empty selector after `{name}:`"));
            }
            let text: String = chars[start..j].iter().collect();
            Ok((Selector::Name(text), j))
        }
    }
}

fn regex_selector(pattern: &str, name: &str) -> Result<Selector, String> {
    if pattern.is_empty() {
        return Err(format!("empty regex selector `//` of `{name}`"));
    }
    Ok(Selector::Regex(pattern.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn var(name: &str, sel: Option<Selector>, count: bool, exclude: bool) -> Variable {
        Variable {
            name: name.to_string(),
            selector: sel,
            count,
            exclude,
        }
    }

    #[test]
    fn list_with_every_form() {
        let got = parse_variables(
            "args|!ARGS:foo|&TX:x|REQUEST_COOKIES:/^_ga(?:_\\w+)?$/|XML:/*",
            false,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                var("ARGS", None, false, false),
                var("ARGS", Some(Selector::Name("foo".into())), false, true),
                var("TX", Some(Selector::Name("x".into())), true, false),
                var(
                    "REQUEST_COOKIES",
                    Some(Selector::Regex("^_ga(?:_\\w+)?$".into())),
                    false,
                    false
                ),
                var("XML", Some(Selector::Name("/*".into())), false, false),
            ]
        );
    }

    #[test]
    fn regex_with_pipe_and_quoted_selectors() {
        let got = parse_variables("ARGS:/^(a|b)$/|ARGS:'/^c/'|ARGS:'d e'|TX.y", false).unwrap();
        assert_eq!(got[0].selector, Some(Selector::Regex("^(a|b)$".into())));
        assert_eq!(got[1].selector, Some(Selector::Regex("^c".into())));
        assert_eq!(got[2].selector, Some(Selector::Name("d e".into())));
        assert_eq!(got[3].selector, Some(Selector::Name("y".into())));
    }

    #[test]
    fn comma_separator_only_when_asked() {
        assert_eq!(parse_variables("!ARGS:a,!ARGS:b", true).unwrap().len(), 2);
        let one = parse_variables("ARGS:a,b", false).unwrap();
        assert_eq!(one[0].selector, Some(Selector::Name("a,b".into())));
    }

    #[test]
    fn errors() {
        let err = |s: &str| parse_variables(s, false).unwrap_err();
        assert_eq!(err(""), "empty variable list");
        assert_eq!(err("ARGS|"), "empty variable at the end of `ARGS|`");
        assert_eq!(err("ARGS||TX"), "empty variable in list");
        assert_eq!(err("!"), "missing variable name after `!`");
        assert_eq!(
            err("AR-GS"),
            "invalid variable name `AR-GS`: only letters, digits and `_` are allowed"
        );
        assert_eq!(err("ARGZ"), "unknown variable `ARGZ`");
        assert_eq!(err("ARGS:"), "empty selector after `ARGS:`");
        assert_eq!(
            err("ARGS:/abc"),
            "regex selector `/abc` of `ARGS` must end with `/`"
        );
        assert_eq!(err("ARGS://"), "empty regex selector `//` of `ARGS`");
        assert_eq!(
            err("!&ARGS"),
            "variable `ARGS` cannot be both excluded (!) and counted (&)"
        );
    }
}
