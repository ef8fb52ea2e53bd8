//! `@detectSQLi`: our own take on libinjection's idea. The value is read as
//! SQL the way an application would paste it into a query: as it is, and
//! as the rest of a string literal opened by `'` or `"`. Its first tokens,
//! folded into a short fingerprint (`s&1o1` for `' or 1=1`), are compared
//! with the shapes an injection takes: a string closed then a logic
//! operator, a UNION SELECT, a stacked statement, a dangerous function,
//! a string closed then a comment. Only the first few tokens count, as in
//! libinjection: an injection has to take over the query where the value
//! starts, and prose that merely mentions SQL further on is left alone.

/// Tokens looked at after folding.
const WINDOW: usize = 5;
/// Bytes read at most: a fingerprint never needs more.
const MAX_SCAN: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    /// A string literal; `empty` when the value closed it at once.
    Str {
        empty: bool,
    },
    Bare,
    Num,
    /// Statement keyword: SELECT, INSERT, DROP, EXEC, WAITFOR...
    Stmt,
    Union,
    Keyword,
    Logic,
    Op,
    /// A known SQL function followed by `(`.
    Func,
    /// Any other word followed by `(`.
    Call,
    Open,
    Close,
    Comma,
    Semi,
    Var,
    Comment,
}

impl Tok {
    fn code(self) -> u8 {
        match self {
            Tok::Str { .. } => b's',
            Tok::Bare => b'n',
            Tok::Num => b'1',
            Tok::Stmt => b'E',
            Tok::Union => b'U',
            Tok::Keyword => b'k',
            Tok::Logic => b'&',
            Tok::Op => b'o',
            Tok::Func => b'f',
            Tok::Call => b'n',
            Tok::Open => b'(',
            Tok::Close => b')',
            Tok::Comma => b',',
            Tok::Semi => b';',
            Tok::Var => b'v',
            Tok::Comment => b'c',
        }
    }
}

const STATEMENTS: &[&str] = &[
    "select", "insert", "update", "delete", "drop", "create", "alter", "truncate", "exec",
    "execute", "declare", "waitfor", "shutdown", "handler", "load", "merge", "call",
];
const KEYWORDS: &[&str] = &[
    "from",
    "where",
    "into",
    "table",
    "order",
    "by",
    "group",
    "having",
    "limit",
    "offset",
    "delay",
    "all",
    "distinct",
    "as",
    "join",
    "on",
    "values",
    "case",
    "when",
    "then",
    "else",
    "end",
    "top",
    "procedure",
    "database",
    "set",
    "begin",
    "cast",
    "convert",
];
const LOGIC: &[&str] = &["and", "or", "xor", "&&", "||"];
const OPERATOR_WORDS: &[&str] = &[
    "like", "rlike", "regexp", "is", "in", "not", "between", "div", "mod", "sounds", "collate",
];
const VALUES: &[&str] = &["null", "true", "false"];
/// Functions an injection calls to probe, stall or exfiltrate.
const FUNCTIONS: &[&str] = &[
    "sleep",
    "benchmark",
    "pg_sleep",
    "extractvalue",
    "updatexml",
    "load_file",
    "char",
    "chr",
    "concat",
    "concat_ws",
    "group_concat",
    "ascii",
    "ord",
    "hex",
    "unhex",
    "substring",
    "substr",
    "mid",
    "version",
    "user",
    "current_user",
    "system_user",
    "session_user",
    "schema",
    "if",
    "ifnull",
    "isnull",
    "nullif",
    "coalesce",
    "count",
    "floor",
    "rand",
    "md5",
    "sha1",
    "length",
    "xmltype",
    "dbms_pipe.receive_message",
    "utl_inaddr.get_host_name",
    "xp_cmdshell",
    "sp_executesql",
    "randomblob",
    "sqlite_version",
    "json_extract",
    "make_set",
    "elt",
    "geometrycollection",
    "polygon",
    "multipoint",
    "exp",
    "name_const",
    "row",
    "iif",
];

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.') || b >= 0x80
}

/// Splits SQL text into tokens, at most `limit` of them (comments count).
fn tokenize(input: &[u8], limit: usize, out: &mut Vec<Tok>) {
    let n = input.len().min(MAX_SCAN);
    let mut i = 0;
    while i < n && out.len() < limit {
        let b = input[i];
        let next = input.get(i + 1).copied().unwrap_or(0);
        match b {
            b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c | 0xa0 => i += 1,
            b'\'' | b'"' => {
                let end = string_end(input, i + 1, b, n);
                out.push(Tok::Str {
                    empty: end == i + 1,
                });
                i = end + 1;
            }
            b'/' if next == b'*' => {
                if input.get(i + 2) == Some(&b'!') {
                    // MySQL executes `/*! ... */`: read what is inside.
                    i += 3;
                    while i < n && input[i].is_ascii_digit() {
                        i += 1;
                    }
                    continue;
                }
                let end = find(&input[i + 2..n], b"*/").map_or(n, |e| i + 2 + e + 2);
                out.push(Tok::Comment);
                i = end;
            }
            b'*' if next == b'/' => i += 2,
            b'-' if next == b'-' => {
                out.push(Tok::Comment);
                i = line_end(input, i, n);
            }
            // MySQL's `#` comment; `#top` (a URL fragment) stays an
            // operator so that links do not read as a commented-out query.
            b'#' if matches!(next, 0 | b' ' | b'\t' | b'\r' | b'\n' | b'#' | b'-') => {
                out.push(Tok::Comment);
                i = line_end(input, i, n);
            }
            b'(' => {
                out.push(Tok::Open);
                i += 1;
            }
            b')' => {
                out.push(Tok::Close);
                i += 1;
            }
            b',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            b';' => {
                out.push(Tok::Semi);
                i += 1;
            }
            b'@' => {
                let mut j = i + 1;
                while j < n && (input[j] == b'@' || is_word_byte(input[j])) {
                    j += 1;
                }
                out.push(Tok::Var);
                i = j;
            }
            b'`' => {
                let end = string_end(input, i + 1, b'`', n);
                out.push(Tok::Bare);
                i = end + 1;
            }
            b'0'..=b'9' => {
                let mut j = i + 1;
                if b == b'0' && matches!(next, b'x' | b'X' | b'b' | b'B') {
                    j += 1;
                }
                while j < n && (input[j].is_ascii_alphanumeric() || input[j] == b'.') {
                    // `20.to_i`: the number ends where a word starts.
                    if input[j] == b'.' && input.get(j + 1).is_some_and(|c| c.is_ascii_alphabetic())
                    {
                        break;
                    }
                    j += 1;
                }
                out.push(Tok::Num);
                i = j;
            }
            b'&' | b'|' if next == b => {
                out.push(Tok::Logic);
                i += 2;
            }
            _ if is_word_byte(b) => {
                let mut j = i;
                while j < n && is_word_byte(input[j]) {
                    j += 1;
                }
                // N'..', X'..', E'..', B'..': prefixed string literals.
                if j == i + 1 && matches!(input.get(j), Some(b'\'')) && b"nNxXeEbBqQ".contains(&b) {
                    let end = string_end(input, j + 1, b'\'', n);
                    out.push(Tok::Str { empty: false });
                    i = end + 1;
                    continue;
                }
                out.push(word(&input[i..j], followed_by_paren(input, j, n)));
                i = j;
            }
            _ => {
                out.push(Tok::Op);
                i += 1;
                // `<=>`, `!=`, `:=`...: one operator.
                while i < n && matches!(input[i], b'=' | b'>' | b'<') {
                    i += 1;
                }
            }
        }
    }
}

fn word(w: &[u8], call: bool) -> Tok {
    let lower = w.to_ascii_lowercase();
    let is = |list: &[&str]| list.iter().any(|k| k.as_bytes() == lower.as_slice());
    if call {
        return if is(FUNCTIONS) {
            Tok::Func
        } else if is(STATEMENTS) {
            Tok::Stmt
        } else if is(LOGIC) {
            Tok::Logic
        } else if is(OPERATOR_WORDS) {
            Tok::Op
        } else {
            Tok::Call
        };
    }
    if lower == b"union" {
        Tok::Union
    } else if is(STATEMENTS) {
        Tok::Stmt
    } else if is(LOGIC) {
        Tok::Logic
    } else if is(OPERATOR_WORDS) {
        Tok::Op
    } else if is(VALUES) {
        Tok::Num
    } else if is(KEYWORDS) {
        Tok::Keyword
    } else {
        Tok::Bare
    }
}

fn followed_by_paren(input: &[u8], mut j: usize, n: usize) -> bool {
    while j < n && matches!(input[j], b' ' | b'\t' | b'\r' | b'\n') {
        j += 1;
    }
    input.get(j) == Some(&b'(')
}

/// Index of the closing `quote` (doubled quotes and backslashes escape),
/// or `n` when the string never closes.
fn string_end(input: &[u8], mut i: usize, quote: u8, n: usize) -> usize {
    while i < n {
        match input[i] {
            b'\\' => i += 2,
            c if c == quote => {
                if input.get(i + 1) == Some(&quote) {
                    i += 2;
                } else {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    n
}

fn line_end(input: &[u8], i: usize, n: usize) -> usize {
    input[i..n]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(n, |p| i + p + 1)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The folded fingerprint: comments out (one trailing `c` kept), adjacent
/// strings merged, `UNION ALL|DISTINCT` as one token; first `WINDOW`.
fn fingerprint(tokens: &[Tok]) -> (Vec<u8>, bool) {
    let mut out: Vec<u8> = Vec::with_capacity(WINDOW + 1);
    let mut empty_first = false;
    let mut last_comment = false;
    for (i, t) in tokens.iter().enumerate() {
        if out.len() >= WINDOW {
            break;
        }
        last_comment = *t == Tok::Comment;
        if last_comment {
            continue;
        }
        let code = t.code();
        let prev = out.last().copied();
        match (prev, code) {
            (Some(b's'), b's') => continue,
            (Some(b'U'), b'k') if i > 0 => continue,
            _ => {}
        }
        if let (true, Tok::Str { empty }) = (out.is_empty(), t) {
            empty_first = *empty;
        }
        out.push(code);
    }
    if last_comment && out.len() < WINDOW {
        out.push(b'c');
    }
    (out, empty_first)
}

/// Shapes of injected SQL, matched at the start of a fingerprint.
const PREFIXES: &[&[u8]] = &[
    // A string closed, then logic: `' or '1'='1`, `' and sleep(5)`.
    b"s&s", b"s&1", b"s&n", b"s&f", b"s&v", b"s&(", b"s&E", b"s&U",
    // ... after closing parentheses too: `') or (`, `')) and (select`.
    b"s)&", b"s))&", b"s)E", b"s))E", b"s)U", b"s))U", b"s);", b"s)k",
    // A string closed, then an expression with a call or a statement.
    b"sof", b"soE", b"soU", b"so(", b"sf", b"sE",
    // UNION after a closed string: `' union select`.
    b"sUE", b"sU(", b"sU1", b"sUs", b"sUv", // Stacked statements.
    b"s;E", b"s;k", b"1;E", b"n;E", b"1);E",
    // A string closed, then the rest of the query commented out.
    b"sc", // Numeric context: `1 or 1=1`, `1 and sleep(5)`, `1 union select`.
    b"1&1o", b"1&1c", b"1&s", b"1&f", b"1&(", b"1&v", b"1&E", b"1U", b"1)U", b"1)&",
    // A known function called on its own: `sleep(20)`.
    b"f(1)", b"f(1,", b"f()", b"f(s", b"f(f", b"f(E",
];
/// Whole fingerprints that are injections only when nothing follows.
const WHOLE: &[&[u8]] = &[b"1&1", b"s&", b"1&f"];

fn injected(fp: &[u8], empty_first: bool) -> bool {
    if PREFIXES.iter().any(|p| fp.starts_with(p)) || WHOLE.contains(&fp) {
        return true;
    }
    // UNION SELECT anywhere in the window, or a number followed by UNION.
    if fp.windows(2).any(|w| w == b"UE" || w == b"1U") {
        return true;
    }
    // The value closed the application's string at once: `" | cmd | "`.
    empty_first && matches!(fp.get(1), Some(b'o' | b'&' | b';' | b')'))
}

/// The fingerprint of `input` when it reads as SQL injection, in one of
/// the three contexts.
pub fn detect(input: &[u8]) -> Option<String> {
    if input.is_empty() {
        return None;
    }
    let mut tokens = Vec::with_capacity(16);
    for quote in [None, Some(b'\''), Some(b'"')] {
        // A quote context needs that quote in the value to close it.
        if let Some(q) = quote {
            if !input.contains(&q) {
                continue;
            }
        }
        tokens.clear();
        if let Some(q) = quote {
            // The value continues a string literal the application opened.
            let end = string_end(input, 0, q, input.len().min(MAX_SCAN));
            tokens.push(Tok::Str { empty: end == 0 });
            if end < input.len() {
                tokenize(&input[end + 1..], 3 * WINDOW, &mut tokens);
            }
        } else {
            tokenize(input, 3 * WINDOW, &mut tokens);
        }
        let (fp, empty_first) = fingerprint(&tokens);
        if injected(&fp, empty_first) {
            return Some(String::from_utf8_lossy(&fp).into_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(s: &str) -> String {
        let mut t = Vec::new();
        tokenize(s.as_bytes(), 20, &mut t);
        String::from_utf8_lossy(&fingerprint(&t).0).into_owned()
    }

    #[test]
    fn tokens_and_folding() {
        assert_eq!(fp("1 OR 1=1"), "1&1o1");
        assert_eq!(fp("'a' 'b' or @x"), "s&v");
        assert_eq!(fp("x UNION ALL SELECT NULL --"), "nUE1c");
        assert_eq!(fp("sleep(20)"), "f(1)");
        assert_eq!(fp("max(20)"), "n(1)");
        assert_eq!(fp("/*! select */ 1"), "E1");
        assert_eq!(fp("a -- comment\n b"), "nn");
        assert_eq!(fp("N'x' || 0x41"), "s&1");
        assert_eq!(fp("`t`.`c` <=> 1"), "nnno1");
    }

    #[test]
    fn injections_in_each_context() {
        for attack in [
            "1234 OR 1=1",
            "-1839' or '1'='1",
            "-1839\" or \"1\"=\"2",
            "EmptyValue' and 526=527",
            "foo') UNION ALL select NULL --",
            "foo')waitfor delay'5:0:20'--",
            "x' and sleep(12) --",
            "sleep(20)",
            "admin'--",
            "1;drop table users",
            "1 union select 1,2",
            "a\" sleep(10) \"",
            "' || 'a'='a",
        ] {
            assert!(detect(attack.as_bytes()).is_some(), "{attack}");
        }
    }

    #[test]
    fn ordinary_values_pass() {
        for benign in [
            "O'Reilly",
            "d'Artagnan",
            "it's fine, isn't it",
            "rock and roll",
            "black or white",
            "2 or 3 bedrooms",
            "1 + 1",
            "2024-01-02",
            "select a size from the list",
            "max(3)",
            "john@example.com",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
            "/post/foo/24 union all select 1,2,3 from aa/bar",
        ] {
            assert_eq!(detect(benign.as_bytes()), None, "{benign}");
        }
    }

    #[test]
    fn odd_bytes_and_long_inputs_are_safe() {
        let mut seed = 7u32;
        for _ in 0..5000 {
            let len = (seed % 40) as usize;
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (seed >> 16) as u8
                })
                .collect();
            let _ = detect(&v);
        }
        let long = "a' ".repeat(50_000);
        let _ = detect(long.as_bytes());
    }
}
