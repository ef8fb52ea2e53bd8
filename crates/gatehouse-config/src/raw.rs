//! `Raw`: a configuration subtree kept with its key path, to be checked
//! later on its own (each list item, each plugin `config`).

use crate::de::{from_node, recover, RAW_SLOT, RAW_TOKEN};
use crate::diag::{join_index, join_key, Mark, Report};
use crate::node::{Node, NodeKind};
use serde::de::{self, DeserializeOwned, Visitor};
use std::fmt;

/// A subtree kept as is, with its key path, to be checked later on its own.
#[derive(Debug, Clone, PartialEq)]
pub struct Raw {
    pub node: Node,
    pub path: String,
}

impl Raw {
    pub fn new(node: Node, path: impl Into<String>) -> Raw {
        Raw {
            node,
            path: path.into(),
        }
    }

    /// Deserializes the subtree; errors go to `report`.
    pub fn parse<T: DeserializeOwned>(&self, report: &Report) -> Option<T> {
        from_node(&self.node, &self.path, report)
    }

    /// Like [`Raw::parse`], but on errors also returns what could still be
    /// read (parts in error left out), so nested entities can be checked too.
    pub fn parse_recovered<T: DeserializeOwned>(&self, report: &Report) -> Result<T, Option<T>> {
        match recover(&self.node, &self.path, report) {
            (Some(v), true) => Ok(v),
            (partial, _) => Err(partial),
        }
    }

    pub fn mark(&self) -> &Mark {
        &self.node.mark
    }

    /// The subtree under `key`, when this node is a mapping that has it.
    pub fn child(&self, key: &str) -> Option<Raw> {
        self.node
            .get(key)
            .map(|n| Raw::new(n.clone(), join_key(&self.path, key)))
    }

    /// Element `index` of the list under `key`.
    pub fn item(&self, key: &str, index: usize) -> Option<Raw> {
        match self.node.get(key).map(|n| &n.kind) {
            Some(NodeKind::Seq(items)) => items
                .get(index)
                .map(|n| Raw::new(n.clone(), join_index(&join_key(&self.path, key), index))),
            _ => None,
        }
    }

    /// Position and path of the value under `key` (or of this node when
    /// absent), to report a semantic error exactly where it is.
    pub fn at(&self, key: &str) -> (Mark, String) {
        match self.node.get(key) {
            Some(v) => (v.mark.clone(), join_key(&self.path, key)),
            None => (self.node.mark.clone(), self.path.clone()),
        }
    }

    /// Position and path of element `index` of the list under `key`.
    pub fn at_index(&self, key: &str, index: usize) -> (Mark, String) {
        match self.node.get(key).map(|n| &n.kind) {
            Some(NodeKind::Seq(items)) if index < items.len() => (
                items[index].mark.clone(),
                join_index(&join_key(&self.path, key), index),
            ),
            _ => self.at(key),
        }
    }

    /// Position and path of the key `key` itself.
    pub fn key_at(&self, key: &str) -> (Mark, String) {
        match self.node.key_node(key) {
            Some(k) => (k.mark.clone(), join_key(&self.path, key)),
            None => (self.node.mark.clone(), self.path.clone()),
        }
    }

    pub fn error_at(&self, report: &Report, key: &str, message: impl Into<String>) {
        let (mark, path) = self.at(key);
        report.error(&mark, &path, message);
    }
}

impl<'de> de::Deserialize<'de> for Raw {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        struct RawVisitor;
        impl Visitor<'_> for RawVisitor {
            type Value = ();
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a configuration subtree")
            }
            fn visit_unit<E: de::Error>(self) -> Result<(), E> {
                Ok(())
            }
        }
        d.deserialize_newtype_struct(RAW_TOKEN, RawVisitor)?;
        RAW_SLOT
            .with(|slot| slot.borrow_mut().take())
            .ok_or_else(|| {
                de::Error::custom(
                    "a configuration subtree can only be read from a Gatehouse config",
                )
            })
    }
}
