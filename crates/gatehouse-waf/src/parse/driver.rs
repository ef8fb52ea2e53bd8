//! The stateful part of parsing: chains, ids and default actions across
//! files, and following `Include`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::actions::{parse_actions, DISRUPTIVE};
use super::ast::{Action, Directive, ParseError, Rule, Source};
use super::directives::{self, Kind};
use super::include;
use super::lexer::{logical_lines, split_args, Arg};
use super::rules::{parse_sec_action, parse_sec_rule};

/// Where the chain being read stands.
enum Chain {
    None,
    /// A starter waiting for its next link.
    Open(Rule),
    /// A rule of the chain was rejected: its remaining links are parsed for
    /// their own errors but not assembled.
    Broken,
}

#[derive(Default)]
pub(crate) struct Driver {
    pub directives: Vec<Directive>,
    pub errors: Vec<ParseError>,
    /// Rule ids seen so far, in every file, with where they were defined.
    ids: HashMap<u64, Source>,
    /// `SecDefaultAction` phases seen so far.
    default_phases: HashMap<String, Source>,
    /// Canonical paths of the files being read, outermost first.
    stack: Vec<PathBuf>,
}

/// Actions `SecDefaultAction` refuses: ModSecurity 3's configuration-time
/// ones, and the flow actions ModSecurity 2 refused (a default jump makes no
/// sense).
const NOT_DEFAULTS: &[&str] = &[
    "id",
    "chain",
    "rev",
    "ver",
    "maturity",
    "accuracy",
    "skip",
    "skipAfter",
];

impl Driver {
    /// Parses a file's text; `Include` paths are relative to `file`'s
    /// directory.
    pub fn parse_text(&mut self, text: &str, file: &str) {
        let base = Path::new(file)
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let mut chain = Chain::None;
        for line in logical_lines(text) {
            let source = Source {
                file: file.to_string(),
                line: line.line,
            };
            let trimmed = line.text.trim_start();
            let name_end = trimmed
                .find(|c: char| c.is_whitespace())
                .unwrap_or(trimmed.len());
            let (written, rest) = trimmed.split_at(name_end);
            let Some((name, kind)) = directives::lookup(written) else {
                self.end_chain(&mut chain);
                self.error(&source, format!("unknown directive `{written}`"));
                continue;
            };
            let args = match split_args(rest) {
                Ok(args) => args,
                Err(e) => {
                    // The links of an unreadable SecRule must not become
                    // rules of their own.
                    if kind == Kind::Rule {
                        chain = if mentions_chain(rest) {
                            Chain::Broken
                        } else {
                            Chain::None
                        };
                    } else {
                        self.end_chain(&mut chain);
                    }
                    self.error(&source, format!("{name}: {e}"));
                    continue;
                }
            };
            if kind == Kind::Rule {
                self.sec_rule(&args, source, &mut chain);
                continue;
            }
            self.end_chain(&mut chain);
            match kind {
                Kind::Action => match parse_sec_action(&args, &source) {
                    Ok(rule) => {
                        if self.claim_id(&rule) {
                            self.directives.push(Directive::Action(rule));
                        }
                    }
                    Err(errors) => self.errors_at(&source, errors),
                },
                Kind::DefaultAction => self.default_action(&args, &source),
                Kind::Include => self.include(&args, &source, &base),
                Kind::Ignored => self.directives.push(Directive::Ignored {
                    name: name.to_string(),
                }),
                Kind::Unsupported(why) => self.error(&source, why.to_string()),
                Kind::Special | Kind::Setting(_) => {
                    match directives::parse_simple(name, kind, &args) {
                        Ok(d) => self.directives.push(d),
                        Err(errors) => self.errors_at(&source, errors),
                    }
                }
                Kind::Rule => {}
            }
        }
        self.end_chain(&mut chain);
    }

    fn sec_rule(&mut self, args: &[Arg], source: Source, chain: &mut Chain) {
        let link = !matches!(chain, Chain::None);
        let rule = match parse_sec_rule(args, &source, link) {
            Ok(rule) => rule,
            Err(rejected) => {
                self.errors_at(&source, rejected.errors);
                *chain = if rejected.chained {
                    Chain::Broken
                } else {
                    Chain::None
                };
                return;
            }
        };
        let more = rule.has_action("chain");
        match std::mem::replace(chain, Chain::None) {
            Chain::None => {
                if !self.claim_id(&rule) {
                    *chain = if more { Chain::Broken } else { Chain::None };
                } else if more {
                    *chain = Chain::Open(rule);
                } else {
                    self.directives.push(Directive::Rule(rule));
                }
            }
            Chain::Open(mut starter) => {
                starter.chained.push(rule);
                if more {
                    *chain = Chain::Open(starter);
                } else {
                    self.directives.push(Directive::Rule(starter));
                }
            }
            Chain::Broken => {
                if more {
                    *chain = Chain::Broken;
                }
            }
        }
    }

    /// Something other than a SecRule follows: an open chain has no end.
    fn end_chain(&mut self, chain: &mut Chain) {
        if let Chain::Open(starter) = std::mem::replace(chain, Chain::None) {
            let last = starter.chained.last().unwrap_or(&starter);
            let id = starter
                .id()
                .map(|id| format!("rule {id}"))
                .unwrap_or_default();
            let message = if starter.chained.is_empty() {
                format!("{id} has `chain` but no SecRule follows it")
            } else {
                format!(
                    "{id} has `chain` on its link at line {} but no SecRule follows it",
                    last.source.line
                )
            };
            self.error(&starter.source, message);
        }
    }

    /// Records a starter's id; false (and an error) if it is taken.
    fn claim_id(&mut self, rule: &Rule) -> bool {
        let Some(id) = rule.id() else {
            return true;
        };
        if let Some(first) = self.ids.get(&id) {
            let message = format!(
                "duplicate rule id {id} (first defined at {}:{})",
                first.file, first.line
            );
            self.error(&rule.source, message);
            return false;
        }
        self.ids.insert(id, rule.source.clone());
        true
    }

    fn default_action(&mut self, args: &[Arg], source: &Source) {
        let [arg] = args else {
            self.error(
                source,
                "SecDefaultAction expects one action list".to_string(),
            );
            return;
        };
        let actions = match parse_actions(&arg.text) {
            Ok(actions) => actions,
            Err(errors) => return self.errors_at(source, errors),
        };
        let mut errors: Vec<String> = actions
            .iter()
            .filter(|a| NOT_DEFAULTS.contains(&a.name.as_str()))
            .map(|a| format!("action `{}` is not allowed in SecDefaultAction", a.name))
            .collect();
        if actions.contains(&Action::new("t", Some("none"))) {
            errors.push("`t:none` is not allowed in SecDefaultAction".to_string());
        }
        if !actions
            .iter()
            .any(|a| a.name != "block" && DISRUPTIVE.contains(&a.name.as_str()))
        {
            errors.push("SecDefaultAction must specify a disruptive action".to_string());
        }
        let phase = actions
            .iter()
            .find(|a| a.name == "phase")
            .and_then(|a| a.value.clone())
            .unwrap_or_else(|| "2".to_string());
        if let Some(first) = self.default_phases.get(&phase) {
            errors.push(format!(
                "SecDefaultAction for phase {phase} is already set at {}:{}",
                first.file, first.line
            ));
        }
        if !errors.is_empty() {
            return self.errors_at(source, errors);
        }
        self.default_phases.insert(phase, source.clone());
        self.directives.push(Directive::DefaultAction(actions));
    }

    fn include(&mut self, args: &[Arg], source: &Source, base: &Path) {
        let [arg] = args else {
            self.error(source, "Include expects one path".to_string());
            return;
        };
        let files = match include::resolve(&arg.text, base) {
            Ok(files) => files,
            Err(e) => return self.error(source, e),
        };
        for file in files {
            if let Err(e) = self.parse_path(&file) {
                self.error(source, e);
            }
        }
    }

    /// Reads and parses one file, refusing to re-enter a file being read.
    pub fn parse_path(&mut self, path: &Path) -> Result<(), String> {
        let shown = path.display().to_string();
        let canonical = std::fs::canonicalize(path).map_err(|e| format!("`{shown}`: {e}"))?;
        if self.stack.contains(&canonical) {
            return Err(format!("Include cycle: `{shown}` is already being read"));
        }
        let bytes = std::fs::read(path).map_err(|e| format!("`{shown}`: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|_| format!("`{shown}` is not valid UTF-8"))?;
        self.stack.push(canonical);
        self.parse_text(&text, &shown);
        self.stack.pop();
        Ok(())
    }

    /// Marks a file as being read (for `parse_str` with a real file name).
    pub fn enter(&mut self, file: &str) {
        if let Ok(canonical) = std::fs::canonicalize(file) {
            self.stack.push(canonical);
        }
    }

    fn error(&mut self, source: &Source, message: String) {
        self.errors.push(ParseError::at(source, message));
    }

    fn errors_at(&mut self, source: &Source, messages: Vec<String>) {
        for message in messages {
            self.error(source, message);
        }
    }
}

/// Whether unparsable rule text seems to ask for `chain`.
fn mentions_chain(text: &str) -> bool {
    text.split(|c: char| c == ',' || c == '"' || c.is_whitespace())
        .any(|word| word.eq_ignore_ascii_case("chain"))
}
