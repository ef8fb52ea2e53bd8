//! Operators: `@rx ^foo`, `!@ipMatch 10.0.0.0/8`, or a bare regex.

use super::ast::Operator;

/// ModSecurity 3's operators: (spelling, takes an argument).
const OPERATORS: &[(&str, bool)] = &[
    ("beginsWith", true),
    ("contains", true),
    ("containsWord", true),
    ("detectSQLi", false),
    ("detectXSS", false),
    ("endsWith", true),
    ("eq", true),
    ("fuzzyHash", true),
    ("ge", true),
    ("geoLookup", false),
    ("gsbLookup", true),
    ("gt", true),
    ("inspectFile", true),
    ("ipMatch", true),
    ("ipMatchFromFile", true),
    ("le", true),
    ("lt", true),
    ("noMatch", false),
    ("pm", true),
    ("pmFromFile", true),
    ("rbl", true),
    ("rsub", true),
    ("rx", true),
    ("rxGlobal", true),
    ("streq", true),
    ("strmatch", true),
    ("unconditionalMatch", false),
    ("validateByteRange", true),
    ("validateDTD", true),
    ("validateHash", true),
    ("validateSchema", true),
    ("validateUrlEncoding", false),
    ("validateUtf8Encoding", false),
    ("verifyCC", true),
    ("verifyCPF", true),
    ("verifySSN", true),
    ("verifySVNR", true),
    ("within", true),
];

/// Short names ModSecurity accepts for the file-backed operators.
const ALIASES: &[(&str, &str)] = &[("pmf", "pmFromFile"), ("ipMatchF", "ipMatchFromFile")];

/// Parses a rule's operator argument (already unquoted).
pub(crate) fn parse_operator(text: &str) -> Result<Operator, String> {
    let (negated, rest) = match text.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let Some(body) = rest.strip_prefix('@') else {
        // No `@`: the whole text is a regex (ModSecurity's default).
        if rest.is_empty() {
            return Err("empty operator".to_string());
        }
        return Ok(Operator {
            name: "rx".to_string(),
            negated,
            argument: rest.to_string(),
        });
    };
    let name_end = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
    let written = &body[..name_end];
    let argument = body[name_end..].trim_start();
    if written.is_empty() {
        return Err("missing operator name after `@`".to_string());
    }
    let canonical = ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(written))
        .map(|&(_, target)| target)
        .unwrap_or(written);
    let Some(&(name, takes_argument)) = OPERATORS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(canonical))
    else {
        return Err(format!("unknown operator `@{written}`"));
    };
    if takes_argument && argument.is_empty() {
        return Err(format!("operator `@{name}` requires an argument"));
    }
    if !takes_argument && !argument.is_empty() {
        return Err(format!("operator `@{name}` takes no argument"));
    }
    Ok(Operator {
        name: name.to_string(),
        negated,
        argument: argument.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn op(name: &str, negated: bool, argument: &str) -> Operator {
        Operator {
            name: name.to_string(),
            negated,
            argument: argument.to_string(),
        }
    }

    #[test]
    fn forms() {
        assert_eq!(
            parse_operator("@rx ^a b$").unwrap(),
            op("rx", false, "^a b$")
        );
        assert_eq!(
            parse_operator("!@ipMatch 10.0.0.0/8").unwrap(),
            op("ipMatch", true, "10.0.0.0/8")
        );
        assert_eq!(parse_operator("^foo").unwrap(), op("rx", false, "^foo"));
        assert_eq!(parse_operator("!bar").unwrap(), op("rx", true, "bar"));
        assert_eq!(
            parse_operator("@detectSQLi").unwrap(),
            op("detectSQLi", false, "")
        );
        assert_eq!(
            parse_operator("@PMF x.data").unwrap(),
            op("pmFromFile", false, "x.data")
        );
        assert_eq!(parse_operator("@GE  5").unwrap(), op("ge", false, "5"));
        assert_eq!(
            parse_operator("@within %{tx.allowed_methods}").unwrap(),
            op("within", false, "%{tx.allowed_methods}")
        );
    }

    #[test]
    fn errors() {
        let err = |s: &str| parse_operator(s).unwrap_err();
        assert_eq!(err(""), "empty operator");
        assert_eq!(err("@"), "missing operator name after `@`");
        assert_eq!(err("@foo bar"), "unknown operator `@foo`");
        assert_eq!(err("@rx"), "operator `@rx` requires an argument");
        assert_eq!(
            err("@detectXSS x"),
            "operator `@detectXSS` takes no argument"
        );
    }
}
