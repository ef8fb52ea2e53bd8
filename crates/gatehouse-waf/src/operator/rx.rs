//! `@rx`: a PCRE pattern run by the linear-time `regex` crate.

use super::{pcre, CompileError};
use regex::bytes::{Regex, RegexBuilder};

/// ModSecurity stores at most TX:0..TX:9.
const MAX_CAPTURES: usize = 10;

/// PCRE has no program-size cap; every CRS v4 pattern fits `regex`'s
/// default 10 MiB, but hand-written rules with big alternations may not.
/// Rules compile once, so a higher ceiling is affordable.
const SIZE_LIMIT: usize = 64 << 20;

/// A compiled `@rx`.
#[derive(Debug, Clone)]
pub struct Rx {
    regex: Regex,
    /// Translated pattern, flags included; what `regex` compiled.
    pattern: String,
    /// The argument contains `%{...}`: expanded per evaluation.
    has_macro: bool,
    /// The pattern is `^.*$` (the CRS's 920450 captures each header name
    /// with it): with DOTALL, every value is its own match.
    whole_value: bool,
}

impl Rx {
    pub(crate) fn compile(argument: &str, has_macro: bool) -> Result<Rx, CompileError> {
        let (regex, pattern) =
            build(argument.as_bytes()).map_err(|e| CompileError(format!("`@rx` pattern: {e}")))?;
        Ok(Rx {
            regex,
            pattern,
            has_macro,
            whole_value: argument == "^.*$",
        })
    }

    pub(crate) fn pattern(&self) -> Option<&str> {
        (!self.has_macro).then_some(self.pattern.as_str())
    }

    pub(crate) fn has_macro(&self) -> bool {
        self.has_macro
    }

    pub(crate) fn matches(&self, value: &[u8], captures: Option<&mut Vec<Vec<u8>>>) -> bool {
        if self.whole_value {
            if let Some(out) = captures {
                out.clear();
                out.push(value.to_vec());
            }
            return true;
        }
        run(&self.regex, value, captures)
    }

    /// With a macro argument the pattern is only known now; compiling per
    /// call is what ModSecurity does too. A pattern that does not compile
    /// once expanded does not match.
    pub(crate) fn matches_expanded(&self, value: &[u8], argument: &[u8]) -> bool {
        match build(argument) {
            Ok((regex, _)) => run(&regex, value, None),
            Err(_) => false,
        }
    }
}

fn build(pattern: &[u8]) -> Result<(Regex, String), String> {
    let translated = pcre::translate(pattern)?;
    let regex = RegexBuilder::new(&translated)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::Syntax(s) => {
                // The last line of a syntax error is the message itself.
                let last = s.lines().rev().find(|l| !l.trim().is_empty());
                last.unwrap_or(&s).trim().to_string()
            }
            other => other.to_string(),
        })?;
    Ok((regex, translated))
}

/// Captures, when asked, are cleared and then hold groups 0..=last
/// participating group (at most 10); a group that took no part is empty.
fn run(regex: &Regex, value: &[u8], captures: Option<&mut Vec<Vec<u8>>>) -> bool {
    let Some(out) = captures else {
        return regex.is_match(value);
    };
    out.clear();
    // No groups: the match itself is TX:0, one search.
    if regex.captures_len() == 1 {
        return match regex.find(value) {
            Some(m) => {
                out.push(m.as_bytes().to_vec());
                true
            }
            None => false,
        };
    }
    // The lazy DFA answers most values (no match) far faster than a
    // capturing search: only a match pays for the groups.
    if !regex.is_match(value) {
        return false;
    }
    let Some(caps) = regex.captures(value) else {
        return false;
    };
    let n = caps.len().min(MAX_CAPTURES);
    let last = (0..n).rev().find(|&i| caps.get(i).is_some()).unwrap_or(0);
    out.extend((0..=last).map(|i| {
        caps.get(i)
            .map(|m| m.as_bytes().to_vec())
            .unwrap_or_default()
    }));
    true
}
