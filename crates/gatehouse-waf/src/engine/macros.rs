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
        String::from_utf8_lossy(&self.expand(template)).into_owned()
    }

    fn resolve(&self, m: &Macro<'_>) -> Option<Vec<u8>> {
        let key = m.key.map(str::to_ascii_lowercase);
        match (m.collection.as_str(), key.as_deref()) {
            ("TX", Some(k)) => self.tx.get(k, self.now).map(<[u8]>::to_vec),
            ("IP" | "GLOBAL" | "SESSION" | "USER" | "RESOURCE", Some(k)) => {
                let (_, c) = self.persistent.get(&m.collection.to_ascii_lowercase())?;
                c.get(k, self.now).map(<[u8]>::to_vec)
            }
            ("MATCHED_VAR", None) => self.matched.last().map(|(_, v)| v.clone()),
            ("MATCHED_VAR_NAME", None) => self.matched.last().map(|(n, _)| n.as_bytes().to_vec()),
            ("RULE", Some(k)) => self.rule_field(k),
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
                first
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
