//! `Include`: which files a path or a file-name glob names.

use std::path::{Path, PathBuf};

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// The files an `Include` argument names, relative to `base` (the including
/// file's directory). A glob (`*`, `?` in the file name only) gives the
/// matching regular files sorted by name and may match none; a plain path
/// must exist.
pub(crate) fn resolve(pattern: &str, base: &Path) -> Result<Vec<PathBuf>, String> {
    let path = base.join(pattern);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = path.parent().unwrap_or(Path::new(""));
    if has_wildcard(&parent.to_string_lossy()) {
        return Err(format!(
            "Include `{pattern}`: wildcards are only supported in the file name"
        ));
    }
    if !has_wildcard(&file_name) {
        return match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(vec![path]),
            Ok(_) => Err(format!("Include `{}`: not a file", path.display())),
            Err(e) => Err(format!("Include `{}`: {e}", path.display())),
        };
    }
    let dir = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("Include `{pattern}`: cannot read `{}`: {e}", dir.display()))?;
    let pattern_chars: Vec<char> = file_name.chars().collect();
    let hidden_ok = file_name.starts_with('.');
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| std::fs::metadata(e.path()).is_ok_and(|m| m.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| hidden_ok || !n.starts_with('.'))
        .filter(|n| wildcard_match(&pattern_chars, &n.chars().collect::<Vec<_>>()))
        .collect();
    names.sort();
    Ok(names.into_iter().map(|n| parent.join(n)).collect())
}

/// `*` is any run of characters, `?` one character.
fn wildcard_match(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    // Where the last `*` was and what it has swallowed up to, to backtrack.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        wildcard_match(
            &p.chars().collect::<Vec<_>>(),
            &n.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn wildcards() {
        assert!(m("*.conf", "REQUEST-901-INITIALIZATION.conf"));
        assert!(!m("*.conf", "x.conf.example"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("**x", "yyx"));
    }
}
