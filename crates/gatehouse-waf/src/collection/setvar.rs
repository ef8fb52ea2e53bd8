//! `setvar`: `tx.score=+5`, `tx.msg=%{rule.msg}`, `!tx.flag`, `ip.block`
//! (no value: set to 1), as ModSecurity v3 parses and applies them.

use super::{to_int, Collection, Name};
use std::fmt;

/// Collections `setvar` may write.
const WRITABLE: [&str; 6] = ["tx", "ip", "global", "session", "user", "resource"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetVarOp {
    /// `name=value` (the value may hold macros).
    Set(String),
    /// `name=+value`
    Add(String),
    /// `name=-value`
    Sub(String),
    /// `!name`
    Delete,
    /// `name` alone: set to `1`.
    SetOne,
}

/// A parsed `setvar`; the name may hold macros too (`tx.%{rule.id}-x`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetVar {
    /// Lowercase collection name.
    pub collection: String,
    pub name: String,
    pub op: SetVarOp,
    /// The name lowercased, when it has no macros: the key a new entry
    /// shares.
    pub key: Option<Name>,
    /// When the operand is one `%{tx.name}` and nothing else (the CRS's
    /// `=+%{tx.critical_anomaly_score}`): that name, lowercase, so the
    /// value is read without expanding a template.
    pub operand_tx: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetVarError(pub String);

impl fmt::Display for SetVarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetVarError {}

impl SetVar {
    /// `[!]collection.name[=[+|-]value]`; also the parser's check of
    /// `setvar` values, so the two cannot disagree.
    pub fn parse(text: &str) -> Result<SetVar, SetVarError> {
        let err = |what: String| SetVarError(format!("setvar `{text}`: {what}"));
        let (delete, rest) = match text.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (target, value) = match rest.split_once('=') {
            Some((t, v)) => (t, Some(v)),
            None => (rest, None),
        };
        if delete && value.is_some() {
            return Err(err("a deletion (!) takes no value".into()));
        }
        let Some((written, name)) = target.split_once('.') else {
            return Err(err("expected `collection.variable`".into()));
        };
        let collection = written.to_ascii_lowercase();
        if !WRITABLE.contains(&collection.as_str()) {
            return Err(err(format!("unknown collection `{written}`")));
        }
        if name.is_empty() {
            return Err(err("empty variable name".into()));
        }
        let op = match value {
            None if delete => SetVarOp::Delete,
            None => SetVarOp::SetOne,
            Some(v) => match v.as_bytes().first() {
                Some(b'+') => SetVarOp::Add(v.get(1..).unwrap_or_default().to_string()),
                Some(b'-') => SetVarOp::Sub(v.get(1..).unwrap_or_default().to_string()),
                _ => SetVarOp::Set(v.to_string()),
            },
        };
        let mut setvar = SetVar {
            collection,
            key: (!super::has_macros(name)).then(|| Name::interned(&name.to_ascii_lowercase())),
            name: name.to_string(),
            op,
            operand_tx: None,
        };
        setvar.operand_tx = tx_macro(setvar.operand());
        Ok(setvar)
    }

    /// Applies the operation with the name and operand already expanded.
    pub fn apply(&self, target: &mut Collection, name: &str, operand: &[u8], now: u64) {
        match &self.op {
            SetVarOp::Delete => target.remove(name),
            SetVarOp::SetOne => target.set_bytes(name, self.key.as_ref(), b"1"),
            SetVarOp::Set(_) => target.set_bytes(name, self.key.as_ref(), operand),
            SetVarOp::Add(_) | SetVarOp::Sub(_) => {
                let delta = to_int(operand);
                let delta = match self.op {
                    SetVarOp::Add(_) => delta,
                    _ => delta.saturating_neg(),
                };
                target.add_int(name, self.key.as_ref(), delta, now);
            }
        }
    }

    /// The operand template (empty for deletions and `name` alone).
    pub fn operand(&self) -> &str {
        match &self.op {
            SetVarOp::Set(v) | SetVarOp::Add(v) | SetVarOp::Sub(v) => v,
            SetVarOp::Delete | SetVarOp::SetOne => "",
        }
    }
}

/// The lowercase name of a text that is exactly one `%{tx.name}` macro.
fn tx_macro(text: &str) -> Option<String> {
    let inner = text.strip_prefix("%{")?.strip_suffix('}')?;
    let (collection, name) = inner.split_once('.')?;
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    (collection.eq_ignore_ascii_case("tx") && plain).then(|| name.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_every_form() {
        let s = SetVar::parse("tx.anomaly_score_pl1=+%{tx.critical_anomaly_score}")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.collection, "tx");
        assert_eq!(s.name, "anomaly_score_pl1");
        assert_eq!(s.op, SetVarOp::Add("%{tx.critical_anomaly_score}".into()));
        assert_eq!(s.operand_tx.as_deref(), Some("critical_anomaly_score"));
        for (text, tx) in [
            ("tx.a=%{TX.Score}", Some("score")),
            ("tx.a=%{tx.score}x", None),
            ("tx.a=%{ip.score}", None),
            ("tx.a=%{tx.a b}", None),
            ("tx.a=%{tx.}", None),
            ("tx.a=5", None),
        ] {
            let s = SetVar::parse(text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(s.operand_tx.as_deref(), tx, "{text}");
        }
        assert_eq!(
            SetVar::parse("!TX.flag").map(|s| s.op),
            Ok(SetVarOp::Delete)
        );
        assert_eq!(
            SetVar::parse("ip.login_attempt").map(|s| s.op),
            Ok(SetVarOp::SetOne)
        );
        assert_eq!(
            SetVar::parse("tx.a=").map(|s| s.op),
            Ok(SetVarOp::Set(String::new()))
        );
        assert_eq!(
            SetVar::parse("tx.a=-2").map(|s| s.op),
            Ok(SetVarOp::Sub("2".into()))
        );
        assert_eq!(
            SetVar::parse("tx.msg=%{rule.msg} = x").map(|s| s.op),
            Ok(SetVarOp::Set("%{rule.msg} = x".into()))
        );
        for bad in ["score=1", "request_headers.x=1", "tx.=1", "!tx.a=1", ""] {
            assert!(SetVar::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn apply_counts_like_modsecurity() {
        let mut c = Collection::new();
        let add = SetVar::parse("ip.login_attempt=+1").unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..6 {
            add.apply(&mut c, "login_attempt", b"1", 0);
        }
        assert_eq!(c.get("login_attempt", 0), Some(&b"6"[..]));
        let sub = SetVar::parse("ip.login_attempt=-10").unwrap_or_else(|e| panic!("{e}"));
        sub.apply(&mut c, "login_attempt", b"10", 0);
        assert_eq!(c.get("login_attempt", 0), Some(&b"-4"[..]));
        SetVar::parse("tx.x=abc")
            .unwrap_or_else(|e| panic!("{e}"))
            .apply(&mut c, "x", b"abc", 0);
        add.apply(&mut c, "x", b"2", 0);
        assert_eq!(c.get("x", 0), Some(&b"2"[..]), "a non-number counts as 0");
        SetVar::parse("tx.one")
            .unwrap_or_else(|e| panic!("{e}"))
            .apply(&mut c, "one", b"", 0);
        assert_eq!(c.get("one", 0), Some(&b"1"[..]));
        SetVar::parse("!tx.one")
            .unwrap_or_else(|e| panic!("{e}"))
            .apply(&mut c, "one", b"", 0);
        assert_eq!(c.get("one", 0), None);
    }
}
