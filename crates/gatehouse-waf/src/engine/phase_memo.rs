//! The memo across a transaction's phases: kept from phase 1 to 2,
//! handed back to the thread's spares when the request phases end, and
//! taken afresh by a later phase.

use super::memo::Memo;
use super::Transaction;

impl Transaction {
    /// The memo for `phase`, with what it knows that `phase` may not use
    /// forgotten.
    pub(super) fn phase_memo(&mut self, phase: u8) -> Box<Memo> {
        // Request values stay where they are for the whole transaction
        // (the body only adds values), so what phase 1 learnt about them
        // holds in phase 2. The response is new data.
        let mut memo = match self.memo.take() {
            Some(mut memo) => {
                if phase >= 3 || self.phase > phase {
                    memo.clear();
                }
                memo
            }
            // Nothing in it to forget.
            None => return self.fresh_memo(),
        };
        // Target lists change when the body adds values, and those that
        // read REQUEST_BODY gain it in phase 2.
        if phase >= 3 || self.vars.has_body_values() {
            memo.clear_groups();
            self.unions.iter_mut().for_each(|u| *u = None);
            self.group_raw.iter_mut().for_each(|g| *g = None);
            self.group_excluded.iter_mut().for_each(|g| *g = None);
        } else if phase == 2 {
            let engine = self.engine.clone();
            for (r, _) in engine.ref_body.iter().enumerate().filter(|(_, b)| **b) {
                memo.subs.forget(r);
            }
            for (g, _) in engine.group_body.iter().enumerate().filter(|(_, b)| **b) {
                memo.groups.forget(g);
                if let Some(raw) = self.group_raw.get_mut(g) {
                    *raw = None;
                }
                if let Some(r) = self.group_excluded.get_mut(g) {
                    *r = None;
                }
            }
            for (pair, g) in engine.pair_groups.iter().enumerate() {
                if engine.group_body.get(*g as usize).copied().unwrap_or(true) {
                    memo.pair_bits.forget(pair);
                    if let Some(u) = self.unions.get_mut(pair) {
                        *u = None;
                    }
                }
            }
        }
        memo
    }

    /// Hands the memo and its tables back to the thread's spares. A
    /// worker has a transaction per request in flight but runs one phase
    /// at a time: memos held while requests wait on their upstreams would
    /// each be cold when read again, where the one just given back is
    /// still in cache for the next request.
    pub(super) fn give_back_memo(&mut self) {
        let Some(mut memo) = self.memo.take() else {
            return;
        };
        for table in [
            &mut self.unions,
            &mut self.group_raw,
            &mut self.group_excluded,
        ] {
            memo.return_table(std::mem::take(table));
        }
        memo.give_back();
    }

    /// A cleared memo, and tables from it, for a phase after the memo
    /// went back.
    fn fresh_memo(&mut self) -> Box<Memo> {
        let mut memo = Memo::take(self.engine.recall.clone());
        self.unions = memo.table(self.engine.pair_groups.len());
        self.group_raw = memo.table(self.engine.group_body.len());
        self.group_excluded = memo.table(self.engine.group_body.len());
        memo
    }
}
