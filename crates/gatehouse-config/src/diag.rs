//! Located configuration errors.

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

/// A position in a configuration file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub file: Arc<str>,
    pub line: usize,
    pub col: usize,
}

/// One configuration error, printed as `file:line:column: key.path: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub mark: Mark,
    /// Dotted key path such as `services[0].routes[1].paths[0]`; empty for
    /// errors that concern the file as a whole.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.mark;
        if self.path.is_empty() {
            write!(f, "{}:{}:{}: {}", m.file, m.line, m.col, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}: {}",
                m.file, m.line, m.col, self.path, self.message
            )
        }
    }
}

/// Every error found in a configuration, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Collects diagnostics while a configuration is read, so one pass reports
/// every mistake it can find instead of stopping at the first.
#[derive(Debug, Default)]
pub struct Report {
    items: RefCell<Vec<Diagnostic>>,
}

impl Report {
    pub fn error(&self, mark: &Mark, path: &str, message: impl Into<String>) {
        self.items.borrow_mut().push(Diagnostic {
            mark: mark.clone(),
            path: path.to_string(),
            message: message.into(),
        });
    }

    pub fn len(&self) -> usize {
        self.items.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.borrow().is_empty()
    }

    /// The collected diagnostics sorted by position, one per position: the
    /// first error at a place is the cause, later ones there are echoes of
    /// it (a value that failed `${VAR}` expansion then fails to parse).
    pub fn finish(self) -> Diagnostics {
        let mut items = self.items.into_inner();
        items.sort_by(|a, b| {
            (&*a.mark.file, a.mark.line, a.mark.col).cmp(&(&*b.mark.file, b.mark.line, b.mark.col))
        });
        items.dedup_by(|later, first| later.mark == first.mark);
        Diagnostics(items)
    }
}

/// `parent.key`, or `key` at the root.
pub fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub fn join_index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// The closest candidate within a small edit distance, for "did you mean".
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(line: usize) -> Mark {
        Mark {
            file: Arc::from("g.yaml"),
            line,
            col: 3,
        }
    }

    #[test]
    fn display_has_file_line_col_path_message() {
        let d = Diagnostic {
            mark: mark(7),
            path: "services[0].url".into(),
            message: "bad".into(),
        };
        assert_eq!(d.to_string(), "g.yaml:7:3: services[0].url: bad");
    }

    #[test]
    fn report_sorts_and_dedups() {
        let r = Report::default();
        r.error(&mark(9), "b", "two");
        r.error(&mark(2), "a", "one");
        r.error(&mark(9), "b", "echo of two");
        let d = r.finish();
        assert_eq!(d.0.len(), 2);
        assert_eq!(d.0[0].message, "one");
        assert_eq!(d.0[1].message, "two");
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("urll", &["url", "name", "routes"]), Some("url"));
        assert_eq!(
            suggest("strip_paths", &["strip_path", "paths"]),
            Some("strip_path")
        );
        assert_eq!(suggest("zzzzzz", &["url", "name"]), None);
    }
}
