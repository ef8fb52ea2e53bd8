//! Per-phase lists by id whose buffers outlive the phase.

/// Lists known for a phase, by id. Their buffers outlive the phase and,
/// with the memo reused, the transaction: refilled, they allocate nothing.
pub(super) struct Lists<T> {
    /// Whether the list is known, and the list.
    lists: Vec<(bool, Vec<T>)>,
}

impl<T> Default for Lists<T> {
    fn default() -> Self {
        Lists { lists: Vec::new() }
    }
}

impl<T> Lists<T> {
    pub fn known(&self, i: usize) -> bool {
        self.lists.get(i).is_some_and(|l| l.0)
    }

    pub fn get(&self, i: usize) -> &[T] {
        match self.lists.get(i) {
            Some((true, l)) => l,
            _ => &[],
        }
    }

    pub fn forget(&mut self, i: usize) {
        if let Some((known, l)) = self.lists.get_mut(i) {
            *known = false;
            l.clear();
        }
    }

    pub fn forget_all(&mut self) {
        for (known, l) in &mut self.lists {
            *known = false;
            l.clear();
        }
    }

    /// List `i`'s buffer, emptied, to fill and [`Lists::put`] back.
    pub fn buffer(&mut self, i: usize) -> Vec<T> {
        self.forget(i);
        match self.lists.get_mut(i) {
            Some((_, l)) => std::mem::take(l),
            None => Vec::new(),
        }
    }

    /// Known list `i`, lent out to be read while the memo changes; it
    /// must be [`Lists::put`] back (it reads as empty until then).
    pub fn take(&mut self, i: usize) -> Option<Vec<T>> {
        match self.lists.get_mut(i) {
            Some((true, l)) => Some(std::mem::take(l)),
            _ => None,
        }
    }

    /// Stores list `i` as known (`true`) or keeps only its buffer.
    pub fn put(&mut self, i: usize, list: Vec<T>, known: bool) {
        if self.lists.len() <= i {
            self.lists.resize_with(i + 1, || (false, Vec::new()));
        }
        if let Some(at) = self.lists.get_mut(i) {
            *at = (known, list);
        }
    }
}
