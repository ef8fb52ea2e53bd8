//! ModSecurity v3 operators (`@rx`, `@pm`, `@ge`, ...): compiled once from
//! their argument when rules load, then evaluated on many values.
//!
//! Negation (`!@rx`) belongs to the caller, as do variables: an argument
//! with macros (`%{tx.foo}`) is kept as written, and the engine expands it
//! and calls [`Operator::matches_expanded`].

mod ip;
mod pcre;
mod pm;
mod rx;
mod sqli;
mod strings;
mod validate;
mod xss;

pub use ip::IpMatch;
pub use pm::PhraseMatch;
pub use rx::Rx;
pub use strings::{parse_int, NumKind, StrKind};
pub use validate::ByteRange;

use aho_corasick::AhoCorasick;
use std::fmt;
use std::path::Path;

/// Why an operator did not compile; phrased to follow `file:line: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError(pub String);

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CompileError {}

/// A string or numeric operator's argument.
#[derive(Debug, Clone)]
pub struct Argument {
    text: Vec<u8>,
    has_macro: bool,
    /// The argument read as a number (numeric operators).
    number: i64,
    /// Prebuilt substring searcher (`@contains`/`@strmatch`).
    finder: Option<AhoCorasick>,
}

impl Argument {
    fn new(text: &str) -> Argument {
        Argument {
            text: text.as_bytes().to_vec(),
            has_macro: has_macro(text),
            number: parse_int(text.as_bytes()),
            finder: None,
        }
    }
}

/// A compiled operator.
#[derive(Debug, Clone)]
pub enum Operator {
    Rx(Rx),
    Pm(PhraseMatch),
    Str(StrKind, Argument),
    Num(NumKind, Argument),
    IpMatch(IpMatch),
    ValidateByteRange(ByteRange),
    ValidateUrlEncoding,
    ValidateUtf8Encoding,
    /// `@detectSQLi`: SQL syntax recognised by tokens (libinjection's idea).
    DetectSqli,
    /// `@detectXSS`: HTML/JavaScript injection recognised by an HTML tokenizer.
    DetectXss,
    UnconditionalMatch,
    NoMatch,
}

/// ModSecurity operators that exist but are not provided here.
const NOT_SUPPORTED: [&str; 15] = [
    "rsub",
    "rbl",
    "geolookup",
    "gsblookup",
    "inspectfile",
    "fuzzyhash",
    "validatedtd",
    "validateschema",
    "validatehash",
    "verifycc",
    "verifycpf",
    "verifyssn",
    "verifysvnr",
    "rxglobal",
    "strmatchfromfile",
];

impl Operator {
    /// Compiles `@name argument`. `name` is as written after `@`
    /// (case-insensitive); `base_dir` is the rule file's directory, against
    /// which `@pmFromFile`/`@ipMatchFromFile` paths resolve.
    pub fn compile(name: &str, argument: &str, base_dir: &Path) -> Result<Operator, CompileError> {
        let name = name.strip_prefix('@').unwrap_or(name);
        let lower = name.to_ascii_lowercase();
        let str_op = |kind| Operator::Str(kind, Argument::new(argument));
        let num_op = |kind| Operator::Num(kind, Argument::new(argument));
        Ok(match lower.as_str() {
            "rx" => Operator::Rx(Rx::compile(argument, has_macro(argument))?),
            "pm" => Operator::Pm(PhraseMatch::from_argument(argument)?),
            "pmf" | "pmfromfile" => Operator::Pm(PhraseMatch::from_files(argument, base_dir)?),
            "streq" => str_op(StrKind::StrEq),
            "contains" | "strmatch" => {
                let kind = if lower == "contains" {
                    StrKind::Contains
                } else {
                    StrKind::StrMatch
                };
                let mut arg = Argument::new(argument);
                if !arg.has_macro && !arg.text.is_empty() {
                    arg.finder = AhoCorasick::new([&arg.text]).ok();
                }
                Operator::Str(kind, arg)
            }
            "containsword" => str_op(StrKind::ContainsWord),
            "beginswith" => str_op(StrKind::BeginsWith),
            "endswith" => str_op(StrKind::EndsWith),
            "within" => str_op(StrKind::Within),
            "eq" => num_op(NumKind::Eq),
            "ge" => num_op(NumKind::Ge),
            "gt" => num_op(NumKind::Gt),
            "le" => num_op(NumKind::Le),
            "lt" => num_op(NumKind::Lt),
            "ipmatch" => Operator::IpMatch(IpMatch::from_argument(argument)?),
            "ipmatchf" | "ipmatchfromfile" => {
                Operator::IpMatch(IpMatch::from_files(argument, base_dir)?)
            }
            "validatebyterange" => Operator::ValidateByteRange(ByteRange::compile(argument)?),
            "validateurlencoding" => Operator::ValidateUrlEncoding,
            "validateutf8encoding" => Operator::ValidateUtf8Encoding,
            "unconditionalmatch" => Operator::UnconditionalMatch,
            "nomatch" => Operator::NoMatch,
            "detectsqli" => Operator::DetectSqli,
            "detectxss" => Operator::DetectXss,
            other if NOT_SUPPORTED.contains(&other) => {
                return Err(CompileError(format!("operator `@{name}` is not supported")))
            }
            _ => return Err(CompileError(format!("unknown operator `@{name}`"))),
        })
    }

    /// Whether `value` matches. `captures`, when given, is cleared and, on
    /// a match, filled with TX:0..TX:9 by `@rx` (TX:0 only for `@pm`).
    /// An argument with macros is used as written; see
    /// [`Operator::matches_expanded`].
    pub fn matches(&self, value: &[u8], captures: Option<&mut Vec<Vec<u8>>>) -> bool {
        let mut captures = captures;
        if let Some(c) = captures.as_deref_mut() {
            c.clear();
        }
        match self {
            Operator::Rx(rx) => rx.matches(value, captures),
            Operator::Pm(pm) => pm.matches(value, captures),
            Operator::Str(kind, arg) => {
                strings::compare(*kind, value, &arg.text, arg.finder.as_ref())
            }
            Operator::Num(kind, arg) => kind.compare(parse_int(value), arg.number),
            Operator::IpMatch(ip) => ip.matches(value),
            Operator::ValidateByteRange(range) => range.matches(value),
            Operator::ValidateUrlEncoding => validate::invalid_url_encoding(value),
            Operator::ValidateUtf8Encoding => validate::invalid_utf8(value),
            Operator::DetectSqli => match sqli::detect(value) {
                Some(fingerprint) => {
                    if let Some(c) = captures {
                        c.push(fingerprint.into_bytes());
                    }
                    true
                }
                None => false,
            },
            Operator::DetectXss => xss::detect(value),
            Operator::UnconditionalMatch => true,
            Operator::NoMatch => false,
        }
    }

    /// A numeric comparison with a number written in the rule (no
    /// macro): what it compares and with what.
    pub fn constant_comparison(&self) -> Option<(NumKind, i64)> {
        match self {
            Operator::Num(kind, arg) if !arg.has_macro => Some((*kind, arg.number)),
            _ => None,
        }
    }

    /// The argument contains macros (`%{...}`) the caller must expand and
    /// pass to [`Operator::matches_expanded`]. Only `@rx` and the string and
    /// numeric operators expand macros, as in ModSecurity.
    pub fn needs_expansion(&self) -> bool {
        match self {
            Operator::Rx(rx) => rx.has_macro(),
            Operator::Str(_, arg) | Operator::Num(_, arg) => arg.has_macro,
            _ => false,
        }
    }

    /// Evaluates with `argument`, the expanded argument, in place of the
    /// compiled one. Operators that do not expand macros ignore it.
    pub fn matches_expanded(&self, value: &[u8], argument: &[u8]) -> bool {
        match self {
            Operator::Rx(rx) => rx.matches_expanded(value, argument),
            Operator::Str(kind, _) => strings::compare(*kind, value, argument, None),
            Operator::Num(kind, _) => kind.compare(parse_int(value), parse_int(argument)),
            _ => self.matches(value, None),
        }
    }

    /// For `@rx` without macros: the translated pattern, flags included,
    /// ready for `regex::bytes::RegexSet` to prefilter many rules at once.
    pub fn rx_pattern(&self) -> Option<&str> {
        match self {
            Operator::Rx(rx) => rx.pattern(),
            _ => None,
        }
    }
}

/// `%{...}` somewhere in the argument.
fn has_macro(text: &str) -> bool {
    text.find("%{")
        .is_some_and(|start| text[start + 2..].contains('}'))
}

/// Reads a `@pmFromFile`/`@ipMatchFromFile` list; relative paths are
/// relative to the rule file's directory.
fn read_list_file(op: &str, file: &str, base_dir: &Path) -> Result<Vec<u8>, CompileError> {
    if file.starts_with("https://") || file.starts_with("http://") {
        return Err(CompileError(format!(
            "`{op}`: remote lists are not supported (`{file}`)"
        )));
    }
    let path = base_dir.join(file);
    std::fs::read(&path)
        .map_err(|e| CompileError(format!("`{op}`: cannot read `{}`: {e}", path.display())))
}
