//! Physical lines to directives, and a directive's text to its arguments.

/// A directive's text with continuations joined, and its first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogicalLine {
    pub line: usize,
    pub text: String,
}

/// Joins `\`-continued lines (the backslash and newline go, the next line's
/// leading spaces stay, as ModSecurity does inside quotes) and drops blank
/// lines and comments.
///
/// A comment ends at its newline, except a commented-out `#SecRule ... \` or
/// `#SecAction ... \`, which swallows its continuation lines too: that is how
/// ModSecurity 3 reads rules disabled by commenting their first line only.
pub(crate) fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut out = Vec::new();
    let mut current: Option<LogicalLine> = None;
    let mut in_comment = false;
    for (index, raw) in text.split('\n').enumerate() {
        let physical = raw.strip_suffix('\r').unwrap_or(raw);
        let continued = physical.ends_with('\\');
        if in_comment {
            in_comment = continued;
            continue;
        }
        let body = if continued {
            &physical[..physical.len() - 1]
        } else {
            physical
        };
        match current.as_mut() {
            Some(open) => open.text.push_str(body),
            None => {
                let trimmed = physical.trim_start();
                if trimmed.is_empty() {
                    continue;
                }
                if let Some(comment) = trimmed.strip_prefix('#') {
                    in_comment = continued && is_commented_rule(comment);
                    continue;
                }
                current = Some(LogicalLine {
                    line: index + 1,
                    text: body.to_string(),
                });
            }
        }
        if !continued {
            if let Some(done) = current.take() {
                push_nonblank(&mut out, done);
            }
        }
    }
    if let Some(done) = current {
        push_nonblank(&mut out, done);
    }
    out
}

fn push_nonblank(out: &mut Vec<LogicalLine>, line: LogicalLine) {
    if !line.text.trim().is_empty() {
        out.push(line);
    }
}

fn is_commented_rule(comment: &str) -> bool {
    let word: String = comment
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    word.eq_ignore_ascii_case("SecRule") || word.eq_ignore_ascii_case("SecAction")
}

/// One whitespace-separated argument of a directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arg {
    pub text: String,
    /// Written in double quotes (`""` is an empty argument, not none).
    pub quoted: bool,
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\r' || c == '\x0b' || c == '\x0c'
}

/// Splits a directive into arguments. In double quotes `\"` is a quote and
/// every other backslash stays, with the character after it, so regexes keep
/// their escapes. Outside quotes, a `'...'` right after `:` is kept whole, so
/// `ARGS:'a b'` stays one argument.
pub(crate) fn split_args(text: &str) -> Result<Vec<Arg>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut args = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_space(chars[i]) {
            i += 1;
            continue;
        }
        if chars[i] == '"' {
            let (value, end) = read_double_quoted(&chars, i + 1)?;
            i = end;
            if let Some(&c) = chars.get(i) {
                if !is_space(c) {
                    return Err(format!("unexpected `{c}` after a closing double quote"));
                }
            }
            args.push(Arg {
                text: value,
                quoted: true,
            });
            continue;
        }
        let mut value = String::new();
        while i < chars.len() && !is_space(chars[i]) {
            let c = chars[i];
            value.push(c);
            i += 1;
            if c == ':' && chars.get(i) == Some(&'\'') {
                let end = single_quoted_end(&chars, i + 1)
                    .ok_or_else(|| "unterminated single quote".to_string())?;
                value.extend(&chars[i..=end]);
                i = end + 1;
            }
        }
        args.push(Arg {
            text: value,
            quoted: false,
        });
    }
    Ok(args)
}

/// Reads from just after an opening `"`; returns the text and the index just
/// after the closing quote.
fn read_double_quoted(chars: &[char], mut i: usize) -> Result<(String, usize), String> {
    let mut value = String::new();
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                if chars[i + 1] != '"' {
                    value.push('\\');
                }
                value.push(chars[i + 1]);
                i += 2;
            }
            '"' => return Ok((value, i + 1)),
            c => {
                value.push(c);
                i += 1;
            }
        }
    }
    Err("unterminated double quote".to_string())
}

/// The index of the `'` closing a single-quoted text that starts at `i`
/// (just after the opening quote); a backslash escapes the next character.
pub(crate) fn single_quoted_end(chars: &[char], mut i: usize) -> Option<usize> {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '\'' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The text of a single-quoted value with `\'` turned into `'`; other
/// backslashes stay (ModSecurity 3 keeps them, and regexes need them).
pub(crate) fn unescape_single(chars: &[char]) -> String {
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && chars.get(i + 1) == Some(&'\'') {
            out.push('\'');
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn texts(s: &str) -> Vec<(usize, String)> {
        logical_lines(s)
            .into_iter()
            .map(|l| (l.line, l.text))
            .collect()
    }

    #[test]
    fn joins_continuations_and_keeps_first_line() {
        let got = texts("\n# c\nSecRule A \\\n  \"b\"\r\nSecMarker X\n");
        assert_eq!(
            got,
            vec![
                (3, "SecRule A   \"b\"".to_string()),
                (5, "SecMarker X".to_string())
            ]
        );
    }

    #[test]
    fn commented_rule_swallows_its_continuations() {
        let got =
            texts("#SecRule A \\\n   \"b\" \\\n   \"c\"\nSecMarker Y\n# note \\\nSecMarker Z");
        assert_eq!(
            got,
            vec![
                (4, "SecMarker Y".to_string()),
                (6, "SecMarker Z".to_string())
            ]
        );
    }

    #[test]
    fn continuation_at_end_of_file() {
        assert_eq!(
            texts("SecMarker A \\"),
            vec![(1, "SecMarker A ".to_string())]
        );
    }

    #[test]
    fn splits_quoted_arguments() {
        let args = split_args(r#"SecRule ARGS:'a b' "@rx ^(?:\"|')\d" "" x"#).unwrap();
        let got: Vec<(&str, bool)> = args.iter().map(|a| (a.text.as_str(), a.quoted)).collect();
        assert_eq!(
            got,
            vec![
                ("SecRule", false),
                ("ARGS:'a b'", false),
                (r#"@rx ^(?:"|')\d"#, true),
                ("", true),
                ("x", false)
            ]
        );
    }

    #[test]
    fn escaped_backslash_before_closing_quote() {
        let args = split_args(r#""a\\" b"#).unwrap();
        assert_eq!(args[0].text, r"a\\");
        assert_eq!(args[1].text, "b");
    }

    #[test]
    fn quote_errors() {
        assert_eq!(
            split_args("\"abc").unwrap_err(),
            "unterminated double quote"
        );
        assert_eq!(
            split_args("\"abc\"d").unwrap_err(),
            "unexpected `d` after a closing double quote"
        );
        assert_eq!(
            split_args("ARGS:'x").unwrap_err(),
            "unterminated single quote"
        );
    }

    #[test]
    fn single_quote_unescaping() {
        let chars: Vec<char> = r"it\'s a \d".chars().collect();
        assert_eq!(unescape_single(&chars), r"it's a \d");
    }
}
