//! What a matching link does besides its verdict: captures, `setvar`,
//! `expirevar`, `initcol`, `ctl`.

use super::eval::CAPTURE_NAMES;
use super::{Scope, Transaction};
use crate::collection::{to_int, Collection, SetVar, SetVarOp};
use crate::compile::{Ctl, Link};
use crate::request::BodyProcessor;
use std::borrow::Cow;

impl Transaction {
    /// TX:0..9 from a capturing match.
    pub(super) fn set_captures(&mut self, caps: Vec<Vec<u8>>) {
        let names = &*CAPTURE_NAMES;
        for name in names.iter().take(self.capture_high).skip(caps.len()) {
            self.tx.remove(name);
        }
        for (name, c) in names.iter().zip(&caps) {
            self.tx.set_bytes(name, Some(name), c);
        }
        self.capture_high = caps.len().min(names.len());
    }

    pub(super) fn run_actions(&mut self, link: &Link) {
        for (name, key) in &link.initcols {
            let key = self.expand_text(key);
            self.open_collection(name, key);
        }
        for s in &link.setvars {
            self.setvar(s);
        }
        for (target, seconds) in &link.expirevars {
            let seconds = self.expand_text(seconds);
            self.expirevar(target, &seconds);
        }
        for ctl in &link.ctls {
            self.ctl(ctl);
        }
    }

    fn setvar(&mut self, s: &SetVar) {
        // Most setvars are plain (`tx.score=+5`): no copies for those.
        // (`key`: the lowercase name, when it has no macros.)
        let name: Cow<'_, str> = match &s.key {
            Some(key) => Cow::Borrowed(key),
            None => {
                let mut name = self.expand_text(&s.name);
                name.make_ascii_lowercase();
                Cow::Owned(name)
            }
        };
        // A lone `%{tx.x}` is read straight from TX, onto the stack when
        // short (scores are).
        let mut short = [0u8; 32];
        let operand: Cow<'_, [u8]> = match &s.operand_tx {
            Some(key) => {
                let v = self.tx.get_lowercase(key, self.now).unwrap_or_default();
                match short.get_mut(..v.len()) {
                    Some(buf) => {
                        buf.copy_from_slice(v);
                        Cow::Borrowed(&*buf)
                    }
                    None => Cow::Owned(v.to_vec()),
                }
            }
            None if crate::collection::has_macros(s.operand()) => {
                Cow::Owned(self.expand(s.operand()).into_owned())
            }
            None => Cow::Borrowed(s.operand().as_bytes()),
        };
        let now = self.now;
        if s.collection == "tx" {
            if name.len() == 1 && name.as_bytes()[0].is_ascii_digit() {
                self.capture_high = CAPTURE_NAMES.len();
            }
            s.apply(&mut self.tx, &name, &operand, now);
            return;
        }
        let Some((key, local)) = self.persistent.get_mut(&s.collection) else {
            return;
        };
        s.apply(local, &name, &operand, now);
        // The store applies the same change atomically, so concurrent
        // requests of a fleet or node never lose an increment.
        let mut change = |c: &mut Collection| s.apply(c, &name, &operand, now);
        let delta = match &s.op {
            SetVarOp::Add(_) => Some(to_int(&operand)),
            SetVarOp::Sub(_) => Some(to_int(&operand).saturating_neg()),
            _ => None,
        };
        match delta {
            Some(d) => self
                .engine
                .store
                .add(&s.collection, key, now, &name, d, &mut change),
            None => self
                .engine
                .store
                .update(&s.collection, key, now, &mut change),
        }
    }

    fn expirevar(&mut self, target: &str, seconds: &str) {
        let Some((collection, name)) = target.split_once('.') else {
            return;
        };
        let (collection, name) = (collection.to_ascii_lowercase(), self.expand_text(name));
        let seconds = crate::collection::to_int(seconds.as_bytes()).max(0) as u64;
        let now = self.now;
        if collection == "tx" {
            self.tx.expire(&name, seconds, now);
            return;
        }
        if let Some((key, local)) = self.persistent.get_mut(&collection) {
            local.expire(&name, seconds, now);
            self.engine.store.update(&collection, key, now, &mut |c| {
                c.expire(&name, seconds, now)
            });
        }
    }

    fn ctl(&mut self, ctl: &Ctl) {
        let patterns = &self.engine.tag_patterns;
        let tag = |t: &str| patterns.get(t).cloned().map(Scope::Tag);
        match ctl {
            Ctl::RuleEngine(mode) => self.mode = *mode,
            Ctl::RuleRemoveById(ranges) => self.removed.push(Scope::Ids(ranges.clone())),
            Ctl::RuleRemoveByTag(t) => self.removed.extend(tag(t)),
            Ctl::RuleRemoveTargetById(range, target) => self
                .removed_targets
                .push((Scope::Ids(vec![*range]), target.clone())),
            Ctl::RuleRemoveTargetByTag(t, target) => {
                if let Some(scope) = tag(t) {
                    self.removed_targets.push((scope, target.clone()));
                }
            }
            Ctl::RequestBodyProcessor(name) => {
                if let Some(p) = BodyProcessor::from_name(name) {
                    self.processor = Some(p);
                }
            }
            Ctl::RequestBodyAccess(on) => self.body_access = *on,
            Ctl::ForceRequestBodyVariable(_) | Ctl::AuditEngine(_) | Ctl::Other(..) => {}
        }
    }
}
