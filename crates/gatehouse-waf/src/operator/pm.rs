//! `@pm` / `@pmFromFile`: case-insensitive phrase search (Aho-Corasick).

use super::{read_list_file, CompileError};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use std::path::Path;

/// A compiled phrase set; `None` when there are no phrases (never matches,
/// as ModSecurity's empty automaton).
#[derive(Debug, Clone)]
pub struct PhraseMatch {
    automaton: Option<AhoCorasick>,
    /// The phrases, for the engine's shared prefilter.
    phrases: Vec<Vec<u8>>,
}

impl PhraseMatch {
    /// Phrases separated by whitespace, after ModSecurity's `@pm` content
    /// parsing: `|41 42|` hex bytes and `\:` `\;` `\\` `\"` escapes.
    pub(crate) fn from_argument(argument: &str) -> Result<PhraseMatch, CompileError> {
        let content = parse_content(argument.as_bytes());
        let phrases = content
            .split(u8::is_ascii_whitespace)
            .filter(|p| !p.is_empty())
            .map(<[u8]>::to_vec);
        build(phrases.collect(), "@pm")
    }

    /// One phrase per line of each file (whitespace-separated list, paths
    /// relative to `base_dir`); blank lines and `#` comment lines skipped.
    pub(crate) fn from_files(argument: &str, base_dir: &Path) -> Result<PhraseMatch, CompileError> {
        let mut phrases = Vec::new();
        let mut files = 0;
        for file in argument.split_ascii_whitespace() {
            files += 1;
            let text = read_list_file("@pmFromFile", file, base_dir)?;
            for line in text.split(|&c| c == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                match line.iter().find(|c| !c.is_ascii_whitespace()) {
                    None | Some(b'#') => {}
                    Some(_) => phrases.push(line.to_vec()),
                }
            }
        }
        if files == 0 {
            return Err(CompileError("`@pmFromFile` needs a file name".into()));
        }
        build(phrases, "@pmFromFile")
    }

    /// The phrases as given (matching ignores ASCII case).
    pub fn phrases(&self) -> &[Vec<u8>] {
        &self.phrases
    }

    /// On a match, `captures` (when asked) holds TX:0, the matched text.
    pub(crate) fn matches(&self, value: &[u8], captures: Option<&mut Vec<Vec<u8>>>) -> bool {
        let Some(ac) = &self.automaton else {
            return false;
        };
        match captures {
            None => ac.is_match(value),
            Some(out) => match ac.find(value) {
                Some(m) => {
                    out.push(value[m.range()].to_vec());
                    true
                }
                None => false,
            },
        }
    }
}

fn build(phrases: Vec<Vec<u8>>, op: &str) -> Result<PhraseMatch, CompileError> {
    if phrases.is_empty() {
        return Ok(PhraseMatch {
            automaton: None,
            phrases,
        });
    }
    let ac = AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .build(&phrases)
        .map_err(|e| CompileError(format!("`{op}`: cannot build the phrase set: {e}")))?;
    Ok(PhraseMatch {
        automaton: Some(ac),
        phrases,
    })
}

/// ModSecurity's `parse_pm_content`: surrounding quotes stripped, `|..|`
/// toggles hex mode (pairs of hex digits become bytes, other bytes are
/// ignored), and `\` escapes `:` `;` `\` `"` (others are kept as written).
fn parse_content(arg: &[u8]) -> Vec<u8> {
    let trimmed = arg.trim_ascii_start();
    let arg = match trimmed {
        [b'"', inner @ .., b'"'] => inner,
        _ => trimmed,
    };
    let mut out = Vec::with_capacity(arg.len());
    let (mut hex, mut escaped) = (false, false);
    let mut pending: Option<u8> = None;
    for &c in arg {
        if escaped {
            escaped = false;
            if !matches!(c, b':' | b';' | b'\\' | b'"') {
                out.push(b'\\');
            }
            out.push(c);
        } else if c == b'|' {
            hex = !hex;
            pending = None;
        } else if c == b'\\' && !hex {
            escaped = true;
        } else if hex {
            if let Some(d) = (c as char).to_digit(16) {
                let d = d as u8;
                match pending.take() {
                    Some(high) => out.push(high << 4 | d),
                    None => pending = Some(d),
                }
            }
        } else {
            out.push(c);
        }
    }
    if escaped {
        out.push(b'\\');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::parse_content;

    #[test]
    fn content_parsing() {
        assert_eq!(parse_content(b"a|41 42|c"), b"aABc");
        assert_eq!(parse_content(b"\"quoted\""), b"quoted");
        assert_eq!(parse_content(br"a\;b\x"), br"a;b\x");
    }
}
