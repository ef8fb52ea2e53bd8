//! `SecRule` and `SecAction`: arguments to a `Rule`, with the checks that
//! depend on where the rule sits in a chain.

use super::actions::{parse_actions, DISRUPTIVE};
use super::ast::{Action, Operator, Rule, Source};
use super::lexer::Arg;
use super::operator::parse_operator;
use super::variables::parse_variables;

/// Why a rule was rejected, and whether it asked to be chained (so that the
/// links after it are not mistaken for rules of their own).
pub(crate) struct Rejected {
    pub errors: Vec<String>,
    pub chained: bool,
}

/// Parses `SecRule VARIABLES OPERATOR [ACTIONS]`. `link` is true for a rule
/// that continues a chain.
pub(crate) fn parse_sec_rule(args: &[Arg], source: &Source, link: bool) -> Result<Rule, Rejected> {
    let mut errors = Vec::new();
    let (variables, operator, actions_text) = match args {
        [] => {
            return Err(reject("SecRule: missing variables and operator", false));
        }
        [_] => return Err(reject("SecRule: missing operator", false)),
        [v, o] => (v, o, None),
        [v, o, a] => (v, o, Some(a)),
        [_, _, a, ..] => {
            return Err(Rejected {
                errors: vec![format!(
                    "SecRule: too many arguments ({}), expected variables, operator and actions",
                    args.len()
                )],
                chained: guess_chained(&a.text),
            })
        }
    };
    let chained_guess = actions_text.is_some_and(|a| guess_chained(&a.text));
    let variables = parse_variables(&variables.text, false)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let operator = parse_operator(&operator.text)
        .map_err(|e| errors.push(e))
        .unwrap_or_else(|()| Operator::unconditional());
    let actions = match actions_text.map(|a| parse_actions(&a.text)) {
        None => Vec::new(),
        Some(Ok(actions)) => actions,
        Some(Err(mut e)) => {
            errors.append(&mut e);
            Vec::new()
        }
    };
    if errors.is_empty() {
        errors = placement_errors(&actions, link);
    }
    if !errors.is_empty() {
        return Err(Rejected {
            errors,
            chained: chained_guess,
        });
    }
    Ok(Rule {
        variables,
        operator,
        actions,
        chained: Vec::new(),
        source: source.clone(),
    })
}

/// Parses `SecAction "ACTIONS"`.
pub(crate) fn parse_sec_action(args: &[Arg], source: &Source) -> Result<Rule, Vec<String>> {
    let text = match args {
        [a] => &a.text,
        [] => return Err(vec!["SecAction: missing actions".to_string()]),
        _ => {
            return Err(vec![format!(
                "SecAction: too many arguments ({}), expected one action list",
                args.len()
            )])
        }
    };
    let actions = parse_actions(text)?;
    let mut errors = placement_errors(&actions, false);
    if actions.iter().any(|a| a.name == "chain") {
        errors.push("SecAction cannot be chained".to_string());
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Rule {
        variables: Vec::new(),
        operator: Operator::unconditional(),
        actions,
        chained: Vec::new(),
        source: source.clone(),
    })
}

/// Only a chain starter may carry an id, a phase, flow and disruptive
/// actions (ModSecurity rejects them in links); a starter needs an id.
fn placement_errors(actions: &[Action], link: bool) -> Vec<String> {
    let mut errors = Vec::new();
    for once in ["id", "phase"] {
        if actions.iter().filter(|a| a.name == once).count() > 1 {
            errors.push(format!("action `{once}` given more than once"));
        }
    }
    if link {
        for action in actions {
            let name = action.name.as_str();
            if matches!(name, "id" | "phase" | "skip" | "skipAfter") || DISRUPTIVE.contains(&name) {
                errors.push(format!(
                    "action `{name}` is not allowed in a chained rule: only the chain starter may carry it"
                ));
            }
        }
    } else if !actions.iter().any(|a| a.name == "id") {
        errors.push("rule has no `id` action".to_string());
    }
    errors
}

/// Whether a (possibly malformed) action list asks for `chain`.
fn guess_chained(actions: &str) -> bool {
    actions
        .split(',')
        .any(|a| a.trim().eq_ignore_ascii_case("chain"))
}

fn reject(message: &str, chained: bool) -> Rejected {
    Rejected {
        errors: vec![message.to_string()],
        chained,
    }
}
