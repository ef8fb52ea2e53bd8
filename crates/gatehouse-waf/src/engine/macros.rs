//! What `%{...}` stands for in a running transaction.

use super::Transaction;
use crate::collection::{expand, Macro};
use crate::compile::{Key, Var, VariableRef};
use std::borrow::Cow;

impl Transaction {
    /// Expands the macros of `template` against the transaction now.
    pub(super) fn expand<'t>(&'t self, template: &'t str) -> Cow<'t, [u8]> {
        // The common argument is one TX variable (`%{tx.allowed_methods}`):
        // its value as it is, no copy.
        if let Some(name) = template
            .strip_prefix("%{")
            .and_then(|t| t.strip_suffix('}'))
            .and_then(|t| t.strip_prefix("tx.").or_else(|| t.strip_prefix("TX.")))
        {
            if !name.contains(['{', '}', '%']) {
                return Cow::Borrowed(self.tx.get(name, self.now).unwrap_or_default());
            }
        }
        expand(template, &mut |m| self.resolve(m))
    }

    /// Like [`Transaction::expand`], as text.
    pub(super) fn expand_text(&self, template: &str) -> String {
        match self.expand(template) {
            Cow::Borrowed(b) => String::from_utf8_lossy(b).into_owned(),
            Cow::Owned(v) => String::from_utf8(v)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        }
    }

    fn resolve(&self, m: &Macro<'_>) -> Option<Cow<'_, [u8]>> {
        // Keys are lowercase as rules write them, usually.
        let key: Option<Cow<'_, str>> = m.key.map(|k| {
            if k.bytes().any(|b| b.is_ascii_uppercase()) {
                Cow::Owned(k.to_ascii_lowercase())
            } else {
                Cow::Borrowed(k)
            }
        });
        match (m.collection.as_ref(), key.as_deref()) {
            ("TX", Some(k)) => self.tx.get(k, self.now).map(Cow::Borrowed),
            ("IP" | "GLOBAL" | "SESSION" | "USER" | "RESOURCE", Some(k)) => {
                let (_, c) = self.persistent.get(&m.collection.to_ascii_lowercase())?;
                c.get(k, self.now).map(Cow::Borrowed)
            }
            ("MATCHED_VAR", None) => self.matched.last().map(|(_, v)| Cow::Borrowed(&v[..])),
            ("MATCHED_VAR_NAME", None) => self
                .matched
                .last()
                .map(|(n, _)| Cow::Borrowed(n.as_bytes())),
            ("RULE", Some(k)) => self.rule_field(k).map(Cow::Owned),
            (_, key) => {
                let r = VariableRef {
                    var: Var::from_name(&m.collection),
                    selector: key.map(|k| Key::Name(k.to_string())),
                    count: false,
                    exclusions: Vec::new(),
                };
                let mut first = None;
                let rule = self.current_rule()?;
                self.each_value(&r, rule, &mut |v| {
                    if first.is_none() {
                        first = Some(v.value.into_owned());
                    }
                });
                first.map(Cow::Owned)
            }
        }
    }

    fn rule_field(&self, key: &str) -> Option<Vec<u8>> {
        let rule = self.current_rule()?;
        let text = match key {
            "id" => rule.id.map(|i| i.to_string()),
            "msg" => rule.msg.clone(),
            "logdata" => rule.logdata.clone(),
            "severity" => rule.severity.map(|s| s.to_string()),
            "ver" => rule.ver.clone(),
            "phase" => Some(rule.phase.to_string()),
            "tag" => rule.tags.first().cloned(),
            _ => None,
        }?;
        Some(text.into_bytes())
    }
}
