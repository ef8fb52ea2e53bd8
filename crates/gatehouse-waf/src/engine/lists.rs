//! Per-phase lists by id whose buffers outlive the phase.

/// Lists known for a phase, by id. Their buffers outlive the phase and,
/// with the memo reused, the transaction: refilled, they allocate nothing.
pub(super) struct Lists<T> {
    lists: Vec<Entry<T>>,
    /// The lists made known since they were last all forgotten: only
    /// those are forgotten, not every list the engine has (hundreds of
    /// entries a request would otherwise read twice, mostly from memory).
    known_ids: Vec<u32>,
}

struct Entry<T> {
    known: bool,
    list: Vec<T>,
    /// Something made from the list (a bit set's index), forgotten with
    /// it.
    derived: Option<u32>,
    /// Ids picked from the list beside it, forgotten with it.
    aside: Vec<u32>,
}

impl<T> Default for Lists<T> {
    fn default() -> Self {
        Lists {
            lists: Vec::new(),
            known_ids: Vec::new(),
        }
    }
}

impl<T> Lists<T> {
    pub fn known(&self, i: usize) -> bool {
        self.lists.get(i).is_some_and(|l| l.known)
    }

    pub fn get(&self, i: usize) -> &[T] {
        match self.lists.get(i) {
            Some(e) if e.known => &e.list,
            _ => &[],
        }
    }

    pub fn forget(&mut self, i: usize) {
        if let Some(e) = self.lists.get_mut(i) {
            e.known = false;
            e.list.clear();
            e.derived = None;
            e.aside.clear();
        }
    }

    pub fn forget_all(&mut self) {
        let mut ids = std::mem::take(&mut self.known_ids);
        for &i in &ids {
            self.forget(i as usize);
        }
        ids.clear();
        self.known_ids = ids;
    }

    /// List `i`'s buffer, emptied, to fill and [`Lists::put`] back.
    pub fn buffer(&mut self, i: usize) -> Vec<T> {
        self.forget(i);
        match self.lists.get_mut(i) {
            Some(e) => std::mem::take(&mut e.list),
            None => Vec::new(),
        }
    }

    /// Known list `i`, lent out to be read while the memo changes; it
    /// must be [`Lists::put`] back (it reads as empty until then).
    pub fn take(&mut self, i: usize) -> Option<Vec<T>> {
        match self.lists.get_mut(i) {
            Some(e) if e.known => Some(std::mem::take(&mut e.list)),
            _ => None,
        }
    }

    /// Stores list `i` as known (`true`) or keeps only its buffer.
    pub fn put(&mut self, i: usize, list: Vec<T>, known: bool) {
        if self.lists.len() <= i {
            self.lists.resize_with(i + 1, || Entry {
                known: false,
                list: Vec::new(),
                derived: None,
                aside: Vec::new(),
            });
        }
        if let Some(e) = self.lists.get_mut(i) {
            if known && !e.known {
                self.known_ids.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
            e.known = known;
            e.list = list;
        }
    }

    /// What was made from known list `i`, if anything yet.
    pub fn derived(&self, i: usize) -> Option<u32> {
        self.lists
            .get(i)
            .filter(|e| e.known)
            .and_then(|e| e.derived)
    }

    /// The ids set aside beside known list `i`.
    pub fn aside(&self, i: usize) -> &[u32] {
        match self.lists.get(i) {
            Some(e) if e.known => &e.aside,
            _ => &[],
        }
    }

    /// Sets ids aside beside known list `i`.
    pub fn set_aside(&mut self, i: usize, ids: impl Iterator<Item = u32>) {
        if let Some(e) = self.lists.get_mut(i).filter(|e| e.known) {
            e.aside.clear();
            e.aside.extend(ids);
        }
    }

    /// Records what was made from known list `i`.
    pub fn set_derived(&mut self, i: usize, value: u32) {
        if let Some(e) = self.lists.get_mut(i).filter(|e| e.known) {
            e.derived = Some(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Lists;

    #[test]
    fn what_was_made_from_a_list_goes_with_it() {
        let mut l: Lists<u32> = Lists::default();
        assert_eq!(l.derived(0), None);
        l.put(0, vec![1, 2], true);
        l.set_derived(0, 7);
        assert_eq!(l.derived(0), Some(7));
        // Lent out and put back: still the same list.
        let list = l.take(0).unwrap_or_default();
        l.put(0, list, true);
        assert_eq!(l.derived(0), Some(7));
        l.forget(0);
        assert_eq!(l.derived(0), None);
        l.put(0, vec![3], true);
        assert_eq!(l.derived(0), None);
        // Refilled through its buffer: a new list.
        l.set_derived(0, 8);
        let buffer = l.buffer(0);
        l.put(0, buffer, true);
        assert_eq!(l.derived(0), None);
        // A list not known holds nothing made from it.
        l.put(1, vec![4], false);
        l.set_derived(1, 9);
        assert_eq!(l.derived(1), None);
        l.set_derived(0, 3);
        l.put(5, vec![6], true);
        l.set_aside(5, [2].into_iter());
        l.forget_all();
        assert_eq!((l.derived(0), l.get(0).len()), (None, 0));
        assert_eq!(
            (l.known(5), l.get(5).len(), l.aside(5).len()),
            (false, 0, 0)
        );
        // Known again after being forgotten one by one: forgotten with
        // the rest.
        l.put(5, vec![7], true);
        l.forget(5);
        l.put(5, vec![8], true);
        l.forget_all();
        assert!(!l.known(5));
    }
}
