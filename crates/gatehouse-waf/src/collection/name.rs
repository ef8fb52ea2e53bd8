//! Collection variable names, shared without reference counts where the
//! rules wrote them.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, LazyLock, Mutex};

/// A collection variable's name (lowercase).
///
/// A transaction copies names all the time: those it writes into its own
/// TX table (see `Collection::over`), those it records as added. Names
/// written in the rules are interned for the life of the process, so a
/// copy and its drop copy a pointer instead of updating a reference count
/// shared by every transaction; names a macro makes at run time (from
/// request data, so unbounded) are shared.
#[derive(Debug, Clone)]
pub enum Name {
    Interned(&'static str),
    Shared(Arc<str>),
}

/// Names interned so far: each distinct name written in the rules a
/// process loaded is kept once, however often they are reloaded.
static INTERNED: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Default::default);

impl Name {
    /// The process-wide copy of a name written in the rules (not one made
    /// from request data: those are never freed here).
    pub fn interned(name: &str) -> Name {
        let mut set = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&kept) = set.get(name) {
            return Name::Interned(kept);
        }
        let kept: &'static str = Box::leak(name.into());
        set.insert(kept);
        Name::Interned(kept)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Name::Interned(s) => s,
            Name::Shared(s) => s,
        }
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Name {
        Name::Shared(Arc::from(name))
    }
}

impl From<String> for Name {
    fn from(name: String) -> Name {
        Name::Shared(Arc::from(name))
    }
}

impl Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// As the text: a map keyed by names is read with a `&str`.
impl Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

#[cfg(test)]
mod tests {
    use super::Name;
    use std::collections::HashMap;

    #[test]
    fn interned_and_shared_names_are_one_key() {
        let a = Name::interned("anomaly_score");
        let b = Name::interned("anomaly_score");
        match (&a, &b) {
            (Name::Interned(x), Name::Interned(y)) => assert!(std::ptr::eq(*x, *y)),
            _ => panic!("not interned: {a:?} {b:?}"),
        }
        let mut m: HashMap<Name, u8> = HashMap::new();
        m.insert(a, 1);
        m.insert(Name::from("anomaly_score"), 2);
        assert_eq!(m.len(), 1);
        assert_eq!(m.get("anomaly_score"), Some(&2));
    }
}
