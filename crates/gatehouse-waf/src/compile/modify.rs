//! `SecRuleRemove*` and `SecRuleUpdate*`: edits to loaded rules, done on
//! the parsed form so the result compiles exactly like a hand-edited rule.

use super::{Entry, Pending};
use crate::parse::{Action, Directive, IdRange};
use regex::Regex;

/// Actions that accumulate; everything else is replaced by an update.
const MULTI: &[&str] = &[
    "t",
    "tag",
    "setvar",
    "ctl",
    "expirevar",
    "initcol",
    "setenv",
];
const DISRUPTIVE: &[&str] = &[
    "allow", "block", "deny", "drop", "pass", "pause", "proxy", "redirect",
];

/// Selects the rules an update applies to.
type Matcher = Box<dyn Fn(&Pending) -> bool>;

fn regex(what: &str, pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("{what}: invalid regex `{pattern}`: {e}"))
}

fn by_ids(ids: &[IdRange]) -> impl Fn(&Pending) -> bool + '_ {
    move |p| {
        p.rule
            .id()
            .is_some_and(|id| ids.iter().any(|r| r.contains(id)))
    }
}

fn by_tag(re: &Regex) -> impl Fn(&Pending) -> bool + '_ {
    move |p| {
        p.rule
            .actions
            .iter()
            .any(|a| a.name == "tag" && a.value.as_deref().is_some_and(|t| re.is_match(t)))
    }
}

fn by_msg(re: &Regex) -> impl Fn(&Pending) -> bool + '_ {
    move |p| p.rule.action("msg").is_some_and(|m| re.is_match(m))
}

fn rules_mut(entries: &mut [Entry]) -> impl Iterator<Item = &mut Pending> {
    entries.iter_mut().filter_map(|e| match e {
        Entry::Rule(p) if !p.removed => Some(p),
        _ => None,
    })
}

/// Removes rules loaded so far, as ModSecurity does.
pub(crate) fn remove(entries: &mut [Entry], d: &Directive) -> Result<(), String> {
    let apply = |entries: &mut [Entry], f: &dyn Fn(&Pending) -> bool| {
        for p in rules_mut(entries) {
            if f(p) {
                p.removed = true;
            }
        }
    };
    match d {
        Directive::RemoveById(ids) => apply(entries, &by_ids(ids)),
        Directive::RemoveByTag(t) => apply(entries, &by_tag(&regex("SecRuleRemoveByTag", t)?)),
        Directive::RemoveByMsg(m) => apply(entries, &by_msg(&regex("SecRuleRemoveByMsg", m)?)),
        _ => {}
    }
    Ok(())
}

/// Applies an update directive to every matching rule; returns errors.
pub(crate) fn update(entries: &mut [Entry], d: &Directive) -> Vec<String> {
    let re = |what, p: &str| regex(what, p);
    let (targets, matcher): (_, Matcher) = match d {
        Directive::UpdateTargetById {
            ids,
            targets,
            replaced,
        } => {
            for p in rules_mut(entries).filter(|p| by_ids(ids)(p)) {
                if let Some(old) = replaced {
                    p.rule.variables.retain(|v| !same_target(v, old));
                }
                p.rule.variables.extend(targets.iter().cloned());
            }
            return Vec::new();
        }
        Directive::UpdateTargetByTag { tag, targets } => {
            match re("SecRuleUpdateTargetByTag", tag) {
                Ok(r) => (
                    targets,
                    Box::new(move |p: &Pending| by_tag(&r)(p)) as Box<_>,
                ),
                Err(e) => return vec![e],
            }
        }
        Directive::UpdateTargetByMsg { msg, targets } => {
            match re("SecRuleUpdateTargetByMsg", msg) {
                Ok(r) => (
                    targets,
                    Box::new(move |p: &Pending| by_msg(&r)(p)) as Box<_>,
                ),
                Err(e) => return vec![e],
            }
        }
        Directive::UpdateActionById { id, actions } => {
            return update_actions(entries, *id, actions)
        }
        _ => return Vec::new(),
    };
    for p in rules_mut(entries).filter(|p| matcher(p)) {
        p.rule.variables.extend(targets.iter().cloned());
    }
    Vec::new()
}

/// `old` as written in ModSecurity 2's third argument, e.g. `ARGS:foo`.
fn same_target(v: &crate::parse::Variable, old: &str) -> bool {
    let (name, sel) = old.split_once(':').unwrap_or((old, ""));
    let key = match &v.selector {
        Some(crate::parse::Selector::Name(n)) | Some(crate::parse::Selector::Regex(n)) => n,
        None => "",
    };
    v.name.eq_ignore_ascii_case(name.trim()) && key.eq_ignore_ascii_case(sel.trim_matches('/'))
}

fn update_actions(entries: &mut [Entry], id: u64, actions: &[Action]) -> Vec<String> {
    if let Some(bad) = actions.iter().find(|a| a.name == "id" || a.name == "phase") {
        return vec![format!(
            "SecRuleUpdateActionById {id}: cannot change `{}`",
            bad.name
        )];
    }
    // An id that matches nothing (e.g. removed) is not an error, as in ModSecurity.
    for p in rules_mut(entries).filter(|p| p.rule.id() == Some(id)) {
        for a in actions {
            let list = &mut p.rule.actions;
            if DISRUPTIVE.contains(&a.name.as_str()) {
                list.retain(|x| !DISRUPTIVE.contains(&x.name.as_str()));
            } else if !MULTI.contains(&a.name.as_str()) {
                list.retain(|x| x.name != a.name);
            }
            list.push(a.clone());
        }
    }
    Vec::new()
}
