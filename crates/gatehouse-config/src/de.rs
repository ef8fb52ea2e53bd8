//! A serde deserializer over positioned nodes that reports, not aborts.
//!
//! Every error is recorded in the [`Report`] with the node's position and
//! key path. Unknown keys are reported and skipped (so the rest of the
//! struct is still checked); a value of the wrong type ends that item only.
//! [`Raw`] fields defer a subtree so list items (each service, route,
//! plugin) are checked independently and all their errors are found.

use crate::diag::{join_index, join_key, suggest, Report};
use crate::node::{Node, NodeKind};
use crate::raw::Raw;
use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use std::cell::{Cell, RefCell};
use std::fmt;

/// The error type inside the deserializer. Once an error has been written to
/// the report it travels up as `Reported` so it is not reported twice.
#[derive(Debug)]
pub enum DeError {
    Reported,
    Message(String),
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeError::Reported => f.write_str("reported"),
            DeError::Message(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::Message(msg.to_string())
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::Message(format!(
            "expected {}, found {}",
            expected(exp),
            unexpected(&unexp)
        ))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        let found = match unexp {
            de::Unexpected::Signed(i) => i.to_string(),
            de::Unexpected::Unsigned(u) => u.to_string(),
            de::Unexpected::Float(f) => f.to_string(),
            other => unexpected(&other).to_string(),
        };
        DeError::Message(format!("invalid value {found}, expected {}", expected(exp)))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::Message(format!("missing required key `{field}`"))
    }

    fn unknown_variant(variant: &str, allowed: &'static [&'static str]) -> Self {
        DeError::Message(format!(
            "unknown value `{variant}`, expected {}",
            one_of(allowed)
        ))
    }
}

fn one_of(allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|a| format!("`{a}`")).collect();
    match quoted.len() {
        0 => "nothing".into(),
        1 => quoted[0].clone(),
        _ => format!("one of {}", quoted.join(", ")),
    }
}

/// Serde's expectation text with Rust type names turned into YAML words.
fn expected(exp: &dyn de::Expected) -> String {
    let s = exp.to_string();
    let int_range = |lo: &str, hi: &str| format!("an integer from {lo} to {hi}");
    match s.as_str() {
        "u8" => int_range("0", "255"),
        "u16" => int_range("0", "65535"),
        "u32" => int_range("0", "4294967295"),
        "u64" | "usize" => "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "a sequence" => "a list".into(),
        "a map" => "a mapping".into(),
        "a borrowed string" => "a string".into(),
        _ if s.starts_with("struct ") || s.starts_with("a struct") => "a mapping".into(),
        _ if s.starts_with("enum ") => "a string".into(),
        _ => s,
    }
}

/// What was found, without echoing the value: it may be a secret.
fn unexpected(u: &de::Unexpected<'_>) -> &'static str {
    use de::Unexpected as U;
    match u {
        U::Bool(_) => "a boolean",
        U::Unsigned(_) | U::Signed(_) => "an integer",
        U::Float(_) => "a number",
        U::Char(_) | U::Str(_) => "a string",
        U::Bytes(_) => "bytes",
        U::Unit | U::Option => "null",
        U::Seq => "a list",
        U::Map => "a mapping",
        _ => "a value of another kind",
    }
}

/// Deserializes `node` as `T`, reporting problems under `path`.
/// `None` means at least one error was reported.
pub fn from_node<T: DeserializeOwned>(node: &Node, path: &str, report: &Report) -> Option<T> {
    let (value, clean) = recover::<T>(node, path, report);
    value.filter(|_| clean)
}

/// Most type errors a single configuration can hold; past this the
/// remaining ones are found on the next run.
const MAX_RECOVERIES: usize = 64;

/// Deserializes `node` as `T`, recovering from errors: the value whose
/// error aborted deserialization is taken out of a copy of the tree and
/// the pass repeats, so one run finds every mistake, not just the first.
/// Returns the value built from what was left (if anything) and whether
/// no error at all was reported.
pub fn recover<T: DeserializeOwned>(node: &Node, path: &str, report: &Report) -> (Option<T>, bool) {
    let errors_before = report.len();
    let mut tree = node.clone();
    for _ in 0..MAX_RECOVERIES {
        let abort = Cell::new(std::ptr::null::<Node>());
        let de = NodeDe {
            node: &tree,
            path: path.to_string(),
            report,
            abort: &abort,
        };
        let failed_at = match T::deserialize(de) {
            Ok(v) => return (Some(v), report.len() == errors_before),
            Err(DeError::Reported) => abort.get(),
            Err(DeError::Message(m)) => {
                report.error(&tree.mark, path, m);
                return (None, false);
            }
        };
        if failed_at.is_null()
            || std::ptr::eq(failed_at, &tree)
            || !remove_node(&mut tree, failed_at)
        {
            return (None, false);
        }
    }
    (None, false)
}

/// Marks the node at address `target` as removed.
fn remove_node(tree: &mut Node, target: *const Node) -> bool {
    let children: Vec<&mut Node> = match &mut tree.kind {
        NodeKind::Seq(items) => items.iter_mut().collect(),
        NodeKind::Map(entries) => entries.iter_mut().map(|(_, v)| v).collect(),
        _ => return false,
    };
    for child in children {
        if std::ptr::eq(&*child, target) {
            child.kind = NodeKind::Removed;
            return true;
        }
        if remove_node(child, target) {
            return true;
        }
    }
    false
}

struct NodeDe<'a> {
    node: &'a Node,
    path: String,
    report: &'a Report,
    /// The deepest node whose error aborted this pass, for [`recover`].
    abort: &'a Cell<*const Node>,
}

impl<'a> NodeDe<'a> {
    fn child(&self, node: &'a Node, path: String) -> NodeDe<'a> {
        NodeDe {
            node,
            path,
            report: self.report,
            abort: self.abort,
        }
    }

    fn copy(&self) -> NodeDe<'a> {
        self.child(self.node, self.path.clone())
    }

    /// Turns a not-yet-reported error into a reported one at this node.
    fn locate<T>(&self, r: Result<T, DeError>) -> Result<T, DeError> {
        r.map_err(|e| match e {
            DeError::Reported => DeError::Reported,
            DeError::Message(m) => {
                self.report.error(&self.node.mark, &self.path, m);
                self.abort.set(self.node);
                DeError::Reported
            }
        })
    }

    fn mismatch(&self, what: &str) -> DeError {
        self.report.error(
            &self.node.mark,
            &self.path,
            format!("expected {what}, found {}", self.node.describe()),
        );
        self.abort.set(self.node);
        DeError::Reported
    }
}

impl<'de> de::Deserializer<'de> for NodeDe<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Null | NodeKind::Removed => visitor.visit_unit(),
            NodeKind::Bool(b) => visitor.visit_bool(*b),
            NodeKind::Int(i) => visitor.visit_i64(*i),
            NodeKind::Float(f) => visitor.visit_f64(*f),
            NodeKind::Str(s) => visitor.visit_borrowed_str(s),
            NodeKind::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter().enumerate(),
                parent: &self,
            }),
            NodeKind::Map(entries) => {
                let live: Vec<_> = entries
                    .iter()
                    .filter(|(_, v)| v.kind != NodeKind::Removed)
                    .collect();
                visitor.visit_map(MapDe {
                    entries: live.into_iter(),
                    value: None,
                    parent: &self,
                })
            }
        };
        self.locate(r)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let me = self.copy();
        let r = match self.node.kind {
            NodeKind::Null | NodeKind::Removed => visitor.visit_none(),
            _ => visitor.visit_some(self),
        };
        me.locate(r)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let NodeKind::Map(entries) = &self.node.kind else {
            return Err(self.mismatch("a mapping"));
        };
        let mut known = Vec::with_capacity(entries.len());
        let mut removed = Vec::new();
        for entry in entries {
            match entry.0.as_str() {
                Some(k) if entry.1.kind == NodeKind::Removed => removed.push(k),
                Some(k) if fields.contains(&k) => known.push(entry),
                Some(k) => {
                    let hint = match suggest(k, fields) {
                        Some(s) => format!(", did you mean `{s}`?"),
                        None if fields.len() <= 16 => format!(" (expected {})", one_of(fields)),
                        None => String::new(),
                    };
                    self.report.error(
                        &entry.0.mark,
                        &join_key(&self.path, k),
                        format!("unknown key `{k}`{hint}"),
                    );
                }
                None => self
                    .report
                    .error(&entry.0.mark, &self.path, "keys must be strings"),
            }
        }
        let r = visitor.visit_map(MapDe {
            entries: known.into_iter(),
            value: None,
            parent: &self,
        });
        // A key taken out by error recovery was already reported; its
        // absence must not be reported again as a missing key.
        let r = match r {
            Err(DeError::Message(m))
                if removed
                    .iter()
                    .any(|k| m == format!("missing required key `{k}`")) =>
            {
                Err(DeError::Reported)
            }
            other => other,
        };
        self.locate(r)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == RAW_TOKEN {
            RAW_SLOT.with(|slot| {
                *slot.borrow_mut() = Some(Raw {
                    node: self.node.clone(),
                    path: self.path.clone(),
                })
            });
            return visitor.visit_unit();
        }
        let me = self.copy();
        let r = visitor.visit_newtype_struct(self);
        me.locate(r)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            NodeKind::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            NodeKind::Map(entries) if entries.len() == 1 => visitor.visit_enum(EnumDe {
                key: &entries[0].0,
                value: &entries[0].1,
                parent: &self,
            }),
            _ => return Err(self.mismatch("a string")),
        };
        self.locate(r)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
    }
}

struct SeqDe<'p, 'a, I> {
    items: I,
    parent: &'p NodeDe<'a>,
}

impl<'de, I: Iterator<Item = (usize, &'de Node)>> de::SeqAccess<'de> for SeqDe<'_, 'de, I> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        // Items taken out by error recovery are skipped; the others keep
        // their original index in paths.
        let Some((i, node)) = self.items.find(|(_, n)| n.kind != NodeKind::Removed) else {
            return Ok(None);
        };
        let child = self.parent.child(node, join_index(&self.parent.path, i));
        let me = child.copy();
        me.locate(seed.deserialize(child)).map(Some)
    }
}

struct MapDe<'p, 'a, I> {
    entries: I,
    value: Option<(&'a Node, String)>,
    parent: &'p NodeDe<'a>,
}

impl<'de, I: Iterator<Item = &'de (Node, Node)>> de::MapAccess<'de> for MapDe<'_, 'de, I> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((k, v)) = self.entries.next() else {
            return Ok(None);
        };
        let key_text = match &k.kind {
            NodeKind::Str(s) => s.clone(),
            NodeKind::Int(i) => i.to_string(),
            NodeKind::Bool(b) => b.to_string(),
            _ => "?".to_string(),
        };
        let path = join_key(&self.parent.path, &key_text);
        self.value = Some((v, path.clone()));
        let key_de = self.parent.child(k, path);
        let me = key_de.copy();
        me.locate(seed.deserialize(key_de)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((node, path)) = self.value.take() else {
            return Err(DeError::Message("value requested before key".into()));
        };
        let child = self.parent.child(node, path);
        let me = child.copy();
        me.locate(seed.deserialize(child))
    }
}

struct EnumDe<'p, 'a> {
    key: &'a Node,
    value: &'a Node,
    parent: &'p NodeDe<'a>,
}

impl<'de> de::EnumAccess<'de> for EnumDe<'_, 'de> {
    type Error = DeError;
    type Variant = NodeDe<'de>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDe<'de>), DeError> {
        let key = self.key.as_str().unwrap_or("?");
        let path = join_key(&self.parent.path, key);
        let key_de = self.parent.child(self.key, path.clone());
        let v = seed.deserialize(key_de)?;
        Ok((v, self.parent.child(self.value, path)))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDe<'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.node.kind {
            NodeKind::Null => Ok(()),
            _ => Err(self.mismatch("null")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}

pub(crate) const RAW_TOKEN: &str = "$gatehouse::Raw";

thread_local! {
    /// Hands a subtree from the deserializer to `Raw`'s visitor: serde has
    /// no way to pass a borrowed node through its data model.
    pub(crate) static RAW_SLOT: RefCell<Option<Raw>> = const { RefCell::new(None) };
}

#[cfg(test)]
#[path = "de_tests.rs"]
mod tests;
