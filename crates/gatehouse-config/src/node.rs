//! A YAML document as a tree of nodes that remember where they came from.
//!
//! serde_yaml forgets positions once a value is built, and stops at the
//! first error. Building our own positioned tree from yaml-rust2's events
//! lets every later error (unknown key, bad CIDR, unknown plugin) point at
//! the exact line and column, and lets us keep going after one.

use crate::diag::{Mark, Report};
use std::collections::HashMap;
use std::sync::Arc;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub mark: Mark,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
    /// Taken out by error recovery (see `de::recover`); read as absent.
    Removed,
}

impl Node {
    /// What this node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match self.kind {
            NodeKind::Null => "null",
            NodeKind::Bool(_) => "a boolean",
            NodeKind::Int(_) => "an integer",
            NodeKind::Float(_) => "a number",
            NodeKind::Str(_) => "a string",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
            NodeKind::Removed => "nothing",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The key node (not the value) for `key`, to point at the key itself.
    pub fn key_node(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, _)| k),
            _ => None,
        }
    }
}

/// Looks up environment variables for `${VAR}` expansion.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Parses one YAML document. An empty file yields `None`. Syntax errors and
/// expansion errors go to `report`; a syntax error yields `None`.
pub fn parse(file: &Arc<str>, source: &str, env: EnvLookup<'_>, report: &Report) -> Option<Node> {
    let mut builder = Builder {
        file: file.clone(),
        env,
        report,
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
    };
    let mut parser = Parser::new_from_str(source);
    if let Err(e) = parser.load(&mut builder, false) {
        let m = e.marker();
        report.error(
            &Mark {
                file: file.clone(),
                line: m.line(),
                col: m.col() + 1,
            },
            "",
            format!("invalid YAML: {}", e.info()),
        );
        return None;
    }
    builder.root
}

enum Frame {
    Seq {
        items: Vec<Node>,
        mark: Mark,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        mark: Mark,
        anchor: usize,
    },
}

struct Builder<'a> {
    file: Arc<str>,
    env: EnvLookup<'a>,
    report: &'a Report,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
}

impl Builder<'_> {
    fn mark(&self, m: Marker) -> Mark {
        Mark {
            file: self.file.clone(),
            line: m.line(),
            col: m.col() + 1,
        }
    }

    /// Whether the next node completes a mapping key (keys are never expanded).
    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    fn push(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    // An empty value (`key:`) is reported at its key: the
                    // parser only notices it is empty on a later line.
                    let node = match node.kind {
                        NodeKind::Null if node.mark.line > k.mark.line => Node {
                            kind: NodeKind::Null,
                            mark: k.mark.clone(),
                        },
                        _ => node,
                    };
                    if let Some((first, _)) = entries.iter().find(|(e, _)| e.kind == k.kind) {
                        let what = k.as_str().map_or_else(String::new, |s| format!(" `{s}`"));
                        self.report.error(
                            &k.mark,
                            "",
                            format!(
                                "duplicate key{what} (first defined at line {})",
                                first.mark.line
                            ),
                        );
                    } else {
                        entries.push((k, node));
                    }
                }
            },
        }
    }

    fn scalar(&self, text: String, style: TScalarStyle, tag: Option<Tag>, mark: Mark) -> NodeKind {
        let text = if self.expecting_key() {
            text
        } else {
            // On failure the text stays unexpanded; errors it causes later
            // at the same position are folded into this one.
            expand_env(&text, self.env).unwrap_or_else(|msg| {
                self.report.error(&mark, "", msg);
                text
            })
        };
        let explicit_str = tag
            .as_ref()
            .is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str");
        if style != TScalarStyle::Plain || explicit_str {
            return NodeKind::Str(text);
        }
        resolve_plain(text)
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, marker: Marker) {
        let mark = self.mark(marker);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                // Quoted scalars are marked after their opening quote;
                // point at the quote, where the value visibly starts.
                let mut mark = mark;
                if matches!(
                    style,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted
                ) && mark.col > 1
                {
                    mark.col -= 1;
                }
                let kind = self.scalar(text, style, tag, mark.clone());
                self.push(Node { kind, mark }, anchor);
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                items: Vec::new(),
                mark,
                anchor,
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                entries: Vec::new(),
                key: None,
                mark,
                anchor,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let (kind, mark, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        mark,
                        anchor,
                    }) => (NodeKind::Seq(items), mark, anchor),
                    Some(Frame::Map {
                        entries,
                        mark,
                        anchor,
                        ..
                    }) => (NodeKind::Map(entries), mark, anchor),
                    None => return,
                };
                // Point a collection at its first element when that comes
                // earlier (the parser marks block mappings after the first key).
                let first = match &kind {
                    NodeKind::Seq(items) => items.first().map(|n| &n.mark),
                    NodeKind::Map(entries) => entries.first().map(|(k, _)| &k.mark),
                    _ => None,
                };
                let mark = match first {
                    Some(f) if (f.line, f.col) < (mark.line, mark.col) => f.clone(),
                    _ => mark,
                };
                self.push(Node { kind, mark }, anchor);
            }
            Event::Alias(id) => {
                let node = match self.anchors.get(&id) {
                    Some(n) => Node {
                        kind: n.kind.clone(),
                        mark,
                    },
                    None => Node {
                        kind: NodeKind::Null,
                        mark,
                    },
                };
                self.push(node, 0);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// YAML 1.2 core schema resolution of a plain scalar. `yes`/`no`/`on`/`off`
/// stay strings, so a boolean setting written that way is an error rather
/// than a silent guess.
fn resolve_plain(text: String) -> NodeKind {
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => return NodeKind::Null,
        "true" | "True" | "TRUE" => return NodeKind::Bool(true),
        "false" | "False" | "FALSE" => return NodeKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" => return NodeKind::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return NodeKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return NodeKind::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return NodeKind::Int(i);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return NodeKind::Int(i);
        }
    }
    let numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    if numeric && text.bytes().any(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return NodeKind::Int(i);
        }
        if let Ok(f) = text.parse::<f64>() {
            return NodeKind::Float(f);
        }
    }
    NodeKind::Str(text)
}

/// Expands `${NAME}` and `${NAME:-default}`; `$${` is a literal `${`.
/// A variable that is not set (and has no default) is an error: a missing
/// secret must stop the gateway, not become an empty key.
pub fn expand_env(text: &str, env: EnvLookup<'_>) -> Result<String, String> {
    if !text.contains("${") {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("${") {
        if rest[..pos].ends_with('$') {
            out.push_str(&rest[..pos - 1]);
            out.push_str("${");
            rest = &rest[pos + 2..];
            continue;
        }
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "unterminated `${` in value (write `$${` for a literal)".to_string())?;
        let inner = &after[..end];
        let (name, default) = match inner.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (inner, None),
        };
        let valid = name
            .chars()
            .enumerate()
            .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
        if name.is_empty() || !valid {
            return Err(format!(
                "`${{{inner}}}` is not a valid environment variable reference"
            ));
        }
        match (env(name), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => return Err(format!("environment variable `{name}` is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn load(src: &str) -> (Option<Node>, Report) {
        let r = Report::default();
        let n = parse(&Arc::from("t.yaml"), src, &no_env, &r);
        (n, r)
    }

    #[test]
    fn positions_and_types() {
        let (n, r) = load("a: 1\nb:\n  - x\n  - 'true'\n  - true\nc: ~\nd: 1.5\n");
        assert!(r.is_empty());
        let n = n.unwrap();
        assert_eq!(n.get("a").unwrap().kind, NodeKind::Int(1));
        let b = n.get("b").unwrap();
        assert_eq!(b.mark.line, 3);
        let NodeKind::Seq(items) = &b.kind else {
            panic!()
        };
        assert_eq!(items[0].mark.line, 3);
        assert_eq!(items[0].mark.col, 5);
        assert_eq!(items[1].kind, NodeKind::Str("true".into()));
        assert_eq!(items[2].kind, NodeKind::Bool(true));
        assert_eq!(n.get("c").unwrap().kind, NodeKind::Null);
        assert_eq!(n.get("d").unwrap().kind, NodeKind::Float(1.5));
    }

    #[test]
    fn yes_no_stay_strings() {
        let (n, _) = load("a: yes\nb: off\n");
        let n = n.unwrap();
        assert_eq!(n.get("a").unwrap().kind, NodeKind::Str("yes".into()));
        assert_eq!(n.get("b").unwrap().kind, NodeKind::Str("off".into()));
    }

    #[test]
    fn duplicate_keys_reported() {
        let (_, r) = load("a: 1\nb: 2\na: 3\n");
        let d = r.finish();
        assert_eq!(d.0.len(), 1);
        assert_eq!(d.0[0].mark.line, 3);
        assert!(
            d.0[0].message.contains("duplicate key `a`"),
            "{}",
            d.0[0].message
        );
    }

    #[test]
    fn syntax_error_is_located() {
        let (n, r) = load("a: [1, 2\nb: 3\n");
        assert!(n.is_none());
        let d = r.finish();
        assert!(d.0[0].message.starts_with("invalid YAML"), "{}", d.0[0]);
    }

    #[test]
    fn anchors_and_aliases() {
        let (n, r) = load("x: &t 30\ny: *t\n");
        assert!(r.is_empty());
        assert_eq!(n.unwrap().get("y").unwrap().kind, NodeKind::Int(30));
    }

    #[test]
    fn env_expansion() {
        let env = |k: &str| match k {
            "SECRET" => Some("s3cr3t".to_string()),
            "PORT" => Some("8080".to_string()),
            _ => None,
        };
        assert_eq!(expand_env("a-${SECRET}-b", &env).unwrap(), "a-s3cr3t-b");
        assert_eq!(expand_env("${MISSING:-dflt}", &env).unwrap(), "dflt");
        assert_eq!(expand_env("$${SECRET}", &env).unwrap(), "${SECRET}");
        assert!(expand_env("${MISSING}", &env)
            .unwrap_err()
            .contains("`MISSING` is not set"));
        assert!(expand_env("${1BAD}", &env).is_err());
        assert!(expand_env("${OPEN", &env).is_err());
        let r = Report::default();
        let n = parse(
            &Arc::from("t"),
            "port: ${PORT}\nkey: \"${SECRET}\"\n${SECRET}: 1\n",
            &env,
            &r,
        )
        .unwrap();
        assert_eq!(n.get("port").unwrap().kind, NodeKind::Int(8080));
        assert_eq!(n.get("key").unwrap().kind, NodeKind::Str("s3cr3t".into()));
        assert!(n.get("${SECRET}").is_some(), "keys are not expanded");
    }

    #[test]
    fn missing_env_is_located_error() {
        let (_, r) = load("a:\n  b: ${NOPE}\n");
        let d = r.finish();
        assert_eq!(d.0.len(), 1);
        assert_eq!(d.0[0].mark.line, 2);
        assert!(d.0[0].message.contains("NOPE"));
    }
}
