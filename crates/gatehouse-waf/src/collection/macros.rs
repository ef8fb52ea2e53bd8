//! `%{...}` macros in operator arguments and action values: `%{tx.score}`,
//! `%{MATCHED_VAR}`, `%{REQUEST_HEADERS.host}`, `%{rule.id}`. The part
//! before the first `.` names the collection (case-insensitive), the rest
//! is the key. What a macro stands for is the engine's business: it
//! answers through the resolver.

use std::borrow::Cow;

/// One `%{...}` reference, already split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Macro<'a> {
    /// Uppercase collection or variable name: `TX`, `MATCHED_VAR`, `RULE`.
    pub collection: Cow<'static, str>,
    /// The key after the first `.`, as written.
    pub key: Option<&'a str>,
}

pub fn has_macros(s: &str) -> bool {
    macro_start(s).is_some()
}

/// Where the first `%{` starts (a byte search: templates are expanded
/// per request).
fn macro_start(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    memchr::memchr_iter(b'%', b).find(|&i| b.get(i + 1) == Some(&b'{'))
}

/// The names macros use most, so naming them costs no allocation.
const COMMON: [&str; 12] = [
    "TX",
    "IP",
    "GLOBAL",
    "SESSION",
    "USER",
    "RESOURCE",
    "MATCHED_VAR",
    "MATCHED_VAR_NAME",
    "RULE",
    "REMOTE_ADDR",
    "REQUEST_HEADERS",
    "REQUEST_FILENAME",
];

fn uppercase(name: &str) -> Cow<'static, str> {
    match COMMON.iter().find(|c| c.eq_ignore_ascii_case(name)) {
        Some(c) => Cow::Borrowed(c),
        None => Cow::Owned(name.to_ascii_uppercase()),
    }
}

/// Expands every macro in `template`; an unknown one becomes empty, as in
/// ModSecurity. An unterminated `%{` is kept as text.
pub fn expand<'a, 'r>(
    template: &'a str,
    resolve: &mut dyn FnMut(&Macro<'_>) -> Option<Cow<'r, [u8]>>,
) -> Cow<'a, [u8]> {
    let Some(first) = macro_start(template) else {
        return Cow::Borrowed(template.as_bytes());
    };
    let mut out = Vec::with_capacity(template.len() + 16);
    out.extend_from_slice(template.get(..first).unwrap_or_default().as_bytes());
    let mut rest = template.get(first..).unwrap_or_default();
    while let Some(start) = macro_start(rest) {
        let (before, tail) = rest.split_at(start);
        out.extend_from_slice(before.as_bytes());
        let inner = tail.get(2..).unwrap_or_default();
        let Some(end) = memchr::memchr(b'}', inner.as_bytes()) else {
            out.extend_from_slice(tail.as_bytes());
            rest = "";
            break;
        };
        let body = inner.get(..end).unwrap_or_default();
        let (collection, key) = match body.split_once('.') {
            Some((c, k)) => (c, Some(k)),
            None => (body, None),
        };
        let m = Macro {
            collection: uppercase(collection.trim()),
            key,
        };
        if let Some(value) = resolve(&m) {
            out.extend_from_slice(&value);
        }
        rest = inner.get(end + 1..).unwrap_or_default();
    }
    out.extend_from_slice(rest.as_bytes());
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver(m: &Macro<'_>) -> Option<Cow<'static, [u8]>> {
        match (m.collection.as_ref(), m.key) {
            ("TX", Some(k)) if k.eq_ignore_ascii_case("critical_anomaly_score") => {
                Some(Cow::Borrowed(b"5"))
            }
            ("MATCHED_VAR", None) => Some(Cow::Owned(b"<script>".to_vec())),
            ("RULE", Some("id")) => Some(Cow::Borrowed(b"941100")),
            _ => None,
        }
    }

    #[test]
    fn macros_expand_and_unknown_ones_are_empty() {
        let mut r = resolver;
        assert!(matches!(expand("plain", &mut r), Cow::Borrowed(_)));
        assert_eq!(&*expand("+%{tx.critical_anomaly_score}", &mut r), b"+5");
        assert_eq!(&*expand("%{TX.CRITICAL_ANOMALY_SCORE}", &mut r), b"5");
        assert_eq!(
            &*expand("id %{rule.id}: %{MATCHED_VAR} %{tx.nope}!", &mut r),
            b"id 941100: <script> !"
        );
        assert_eq!(&*expand("50%{ off", &mut r), b"50%{ off");
        assert_eq!(&*expand("%{}", &mut r), b"");
    }
}
