//! The JSON body processor: a strict tokenizer with the rules of yajl (the
//! parser libmodsecurity v3 links), driven by an explicit stack so deep
//! nesting costs memory bounded by the depth limit, never native stack.
//!
//! Scalars become arguments named as v3's `JSON::addArgument` names them:
//! the path from the root, `json` first, members joined with `.`, array
//! elements as `array_<index>`: `{"a":{"b":[7]}}` gives `json.a.b.array_0`;
//! a top-level scalar is `json`. Values: strings unescaped, numbers as
//! written, `true`/`false`, and `null` as the empty string. Arguments found
//! before an error stay, as with v3's streaming parser.

/// One open container: where its name ends in the path, and for an array
/// the index of its next element.
struct Frame {
    head: usize,
    next_index: Option<usize>,
}

/// v3's flattening state; `emit` returns false to cancel (argument limit).
/// `path` holds the open containers' names with their separators, so a
/// scalar's name is one copy of it (the innermost separator is rewritten
/// for each element; an outer one holds while its child is open).
struct Flattener<'e> {
    frames: Vec<Frame>,
    path: Vec<u8>,
    key: Vec<u8>,
    max_depth: usize,
    emit: &'e mut dyn FnMut(Vec<u8>, Vec<u8>) -> bool,
}

const CANCELLED: &str = "parse error: client cancelled parse via callback return value";

impl Flattener<'_> {
    fn in_array(&self) -> bool {
        self.frames.last().is_some_and(|f| f.next_index.is_some())
    }

    /// The path up to the innermost container and its separator: `.` in
    /// an object, `.array_<index>` in an array, nothing at the root.
    fn separate(&mut self) {
        match self.frames.last() {
            Some(f) => {
                self.path.truncate(f.head);
                match f.next_index {
                    Some(n) => {
                        self.path.extend_from_slice(b".array_");
                        // (Written in place, no `String`; a `Vec` takes
                        // every write.)
                        let _ = std::io::Write::write_fmt(&mut self.path, format_args!("{n}"));
                    }
                    None => self.path.push(b'.'),
                }
            }
            None => self.path.clear(),
        }
    }

    /// v3's `getCurrentKey`, onto the path: `json` at the root, the
    /// pending member name (consumed), nothing inside an array,
    /// `empty-key` for an empty name.
    fn push_key(&mut self) {
        if self.frames.is_empty() {
            self.path.extend_from_slice(b"json");
        } else if !self.key.is_empty() {
            self.path.extend_from_slice(&self.key);
            self.key.clear();
        } else if !self.in_array() {
            self.path.extend_from_slice(b"empty-key");
        }
    }

    fn scalar(&mut self, value: Vec<u8>) -> Result<(), String> {
        self.separate();
        if self.in_array() {
            self.bump_index();
        } else {
            self.push_key();
        }
        if (self.emit)(self.path.clone(), value) {
            Ok(())
        } else {
            Err(CANCELLED.to_owned())
        }
    }

    fn bump_index(&mut self) {
        if let Some(Frame {
            next_index: Some(n),
            ..
        }) = self.frames.last_mut()
        {
            *n += 1;
        }
    }

    fn open(&mut self, array: bool) -> Result<(), String> {
        self.separate();
        self.push_key();
        self.frames.push(Frame {
            head: self.path.len(),
            next_index: array.then_some(0),
        });
        if self.frames.len() > self.max_depth {
            return Err(format!("{CANCELLED}. Parsing depth limit exceeded"));
        }
        Ok(())
    }

    fn close(&mut self) {
        self.frames.pop();
        self.bump_index();
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Value,
    ValueOrClose,
    KeyOrClose,
    Key,
    Colon,
    CommaOrClose,
    Done,
}

/// yajl's whitespace, which includes `\v` and `\f`.
fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

const EOF: &str = "parse error: premature EOF";

/// Parses `body`, handing each scalar to `emit` as (name, value). The error
/// reads like yajl's (v3 prefixes "JSON parsing error: ").
pub(super) fn parse(
    body: &[u8],
    max_depth: usize,
    emit: &mut dyn FnMut(Vec<u8>, Vec<u8>) -> bool,
) -> Result<(), String> {
    let mut f = Flattener {
        frames: Vec::new(),
        path: Vec::new(),
        key: Vec::new(),
        max_depth,
        emit,
    };
    let mut st = State::Value;
    let mut i = 0;
    loop {
        while body.get(i).is_some_and(|&c| is_ws(c)) {
            i += 1;
        }
        let Some(&c) = body.get(i) else {
            return if st == State::Done {
                Ok(())
            } else {
                Err(EOF.to_owned())
            };
        };
        let rest = &body[i..];
        match st {
            State::Done => return Err("parse error: trailing garbage".to_owned()),
            State::Colon if c == b':' => {
                i += 1;
                st = State::Value;
            }
            State::Colon => {
                return Err(
                    "parse error: object key and value must be separated by a colon (':')"
                        .to_owned(),
                )
            }
            State::KeyOrClose if c == b'}' => {
                i += 1;
                f.close();
                st = after_value(&f);
            }
            State::KeyOrClose | State::Key if c == b'"' => {
                let (key, n) = lex_string(rest)?;
                i += n;
                f.key = key;
                st = State::Colon;
            }
            State::KeyOrClose | State::Key => {
                return Err("parse error: invalid object key (must be a string)".to_owned())
            }
            State::CommaOrClose => {
                let in_array = f.in_array();
                match c {
                    b',' => st = if in_array { State::Value } else { State::Key },
                    b']' if in_array => f.close(),
                    b'}' if !in_array => f.close(),
                    _ if in_array => {
                        return Err(
                            "parse error: after array element, I expect ',' or ']'".to_owned()
                        )
                    }
                    _ => {
                        return Err(
                            "parse error: after key and value, inside map, I expect ',' or '}'"
                                .to_owned(),
                        )
                    }
                }
                i += 1;
                if c != b',' {
                    st = after_value(&f);
                }
            }
            State::ValueOrClose if c == b']' => {
                i += 1;
                f.close();
                st = after_value(&f);
            }
            State::Value | State::ValueOrClose => {
                match c {
                    b'{' | b'[' => {
                        i += 1;
                        f.open(c == b'[')?;
                        st = if c == b'[' {
                            State::ValueOrClose
                        } else {
                            State::KeyOrClose
                        };
                        continue;
                    }
                    b'"' => {
                        let (s, n) = lex_string(rest)?;
                        i += n;
                        f.scalar(s)?;
                    }
                    b't' | b'f' | b'n' => {
                        let (word, value): (&[u8], &[u8]) = match c {
                            b't' => (b"true", b"true"),
                            b'f' => (b"false", b"false"),
                            _ => (b"null", b""),
                        };
                        if !rest.starts_with(word) {
                            return Err("lexical error: invalid string in json text.".to_owned());
                        }
                        i += word.len();
                        f.scalar(value.to_vec())?;
                    }
                    b'-' | b'0'..=b'9' => {
                        let n = lex_number(rest)?;
                        i += n;
                        f.scalar(rest[..n].to_vec())?;
                    }
                    b']' | b'}' | b',' | b':' => {
                        return Err(
                            "parse error: unallowed token at this point in JSON text".to_owned()
                        )
                    }
                    _ => return Err("lexical error: invalid char in json text.".to_owned()),
                }
                st = after_value(&f);
            }
        }
    }
}

fn after_value(f: &Flattener) -> State {
    if f.frames.is_empty() {
        State::Done
    } else {
        State::CommaOrClose
    }
}

/// Length of the number at the start of `s`, by the JSON grammar.
fn lex_number(s: &[u8]) -> Result<usize, String> {
    let digits = |from: usize| {
        s[from.min(s.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut j = usize::from(s.first() == Some(&b'-'));
    match s.get(j) {
        Some(b'0') => j += 1,
        Some(b'1'..=b'9') => j += digits(j),
        _ => {
            return Err(
                "lexical error: malformed number, a digit is required after the minus sign."
                    .to_owned(),
            )
        }
    }
    if s.get(j) == Some(&b'.') {
        let n = digits(j + 1);
        if n == 0 {
            return Err(
                "lexical error: malformed number, a digit is required after the decimal point."
                    .to_owned(),
            );
        }
        j += 1 + n;
    }
    if matches!(s.get(j), Some(b'e' | b'E')) {
        j += 1;
        if matches!(s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let n = digits(j);
        if n == 0 {
            return Err(
                "lexical error: malformed number, a digit is required after the exponent."
                    .to_owned(),
            );
        }
        j += n;
    }
    Ok(j)
}

/// Four hex digits at the start of `s`.
fn hex4(s: &[u8]) -> Result<u32, String> {
    let mut v = 0;
    for k in 0..4 {
        let Some(&c) = s.get(k) else {
            return Err(EOF.to_owned());
        };
        let d = (c as char).to_digit(16).ok_or_else(|| {
            "lexical error: invalid (non-hex) character occurs after '\\u' inside string."
                .to_owned()
        })?;
        v = v << 4 | d;
    }
    Ok(v)
}

/// yajl's UTF-8 check: lead byte and continuation bytes only (overlong
/// forms pass, as they do in v3). Returns the sequence length.
fn utf8_len(s: &[u8]) -> Option<usize> {
    let n = match s.first()? {
        c if c >> 5 == 0x6 => 2,
        c if c >> 4 == 0xe => 3,
        c if c >> 3 == 0x1e => 4,
        _ => return None,
    };
    let tail = s.get(1..n)?;
    tail.iter().all(|c| c >> 6 == 0x2).then_some(n)
}

/// yajl's `Utf32toUtf8`.
fn push_utf8(out: &mut Vec<u8>, cp: u32) {
    // Each `as u8` keeps the low bits, which the masks already select.
    match cp {
        0..=0x7f => out.push(cp as u8),
        0x80..=0x7ff => out.extend([0xc0 | (cp >> 6) as u8, 0x80 | (cp & 0x3f) as u8]),
        0x800..=0xffff => out.extend([
            0xe0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
        0x1_0000..=0x1f_ffff => out.extend([
            0xf0 | (cp >> 18) as u8,
            0x80 | ((cp >> 12) & 0x3f) as u8,
            0x80 | ((cp >> 6) & 0x3f) as u8,
            0x80 | (cp & 0x3f) as u8,
        ]),
        _ => out.push(b'?'),
    }
}

/// The string starting at `s[0] == b'"'`, unescaped as yajl does: a high
/// surrogate joins the `\u` after it, a lone one becomes `?`, `\u0000` is a
/// NUL byte. Returns it with the bytes consumed.
fn lex_string(s: &[u8]) -> Result<(Vec<u8>, usize), String> {
    // Most strings are plain ASCII without escapes: copied in one go.
    let body = s.get(1..).unwrap_or_default();
    let plain = body
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || !(0x20..0x80).contains(&c))
        .unwrap_or(body.len());
    let mut out = body[..plain].to_vec();
    let mut i = 1 + plain;
    loop {
        let Some(&c) = s.get(i) else {
            return Err(EOF.to_owned());
        };
        match c {
            b'"' => return Ok((out, i + 1)),
            b'\\' => {
                let simple = match s.get(i + 1) {
                    None => return Err(EOF.to_owned()),
                    Some(b'"') => b'"',
                    Some(b'\\') => b'\\',
                    Some(b'/') => b'/',
                    Some(b'b') => 0x08,
                    Some(b'f') => 0x0c,
                    Some(b'n') => b'\n',
                    Some(b'r') => b'\r',
                    Some(b't') => b'\t',
                    Some(b'u') => {
                        let mut cp = hex4(s.get(i + 2..).unwrap_or_default())?;
                        i += 6;
                        if cp & 0xfc00 == 0xd800 {
                            if s.get(i..i + 2) == Some(b"\\u") {
                                let lo = hex4(s.get(i + 2..).unwrap_or_default())?;
                                i += 6;
                                cp = ((cp & 0x3f) << 10) | ((((cp >> 6) & 0xf) + 1) << 16) | (lo & 0x3ff);
                                push_utf8(&mut out, cp);
                            } else {
                                out.push(b'?');
                            }
                        } else {
                            push_utf8(&mut out, cp);
                        }
                        continue;
                    }
                    Some(_) => {
                        return Err(
                            "lexical error: inside a string, '\\' occurs before a character which it may not."
                                .to_owned(),
                        )
                    }
                };
                out.push(simple);
                i += 2;
            }
            0..=0x1f => return Err("lexical error: invalid character inside string.".to_owned()),
            0x80.. => {
                let n = utf8_len(&s[i..]).ok_or("lexical error: invalid bytes in UTF8 string.")?;
                out.extend_from_slice(&s[i..i + n]);
                i += n;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: &str) -> (Vec<(String, String)>, Result<(), String>) {
        let mut got = Vec::new();
        let mut emit = |n: Vec<u8>, v: Vec<u8>| {
            got.push((
                String::from_utf8_lossy(&n).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            ));
            true
        };
        let r = parse(body.as_bytes(), 512, &mut emit);
        (got, r)
    }

    #[test]
    fn v3_regression_names() {
        // ModSecurity test/test-cases/regression/issue-1576.json.
        let (got, r) = run(r#"{"ops":[1,2,3,{"eins":["zwei","drei"]}]}"#);
        assert_eq!(r, Ok(()));
        assert_eq!(
            got[3],
            ("json.ops.array_3.eins.array_0".into(), "zwei".into())
        );
        let (got, _) = run(r#"["one","two","three"]"#);
        assert_eq!(got[2], ("json.array_2".into(), "three".into()));
    }

    #[test]
    fn names_hold_after_containers_close() {
        let (got, r) =
            run(r#"{"a":[[1,2],[3]],"":{"b":true},"c":[0,1,2,3,4,5,6,7,8,9,10],"d":"x"}"#);
        assert_eq!(r, Ok(()));
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names[..5],
            [
                "json.a.array_0.array_0",
                "json.a.array_0.array_1",
                "json.a.array_1.array_0",
                "json.empty-key.b",
                "json.c.array_0",
            ]
        );
        assert_eq!(got[14], ("json.c.array_10".into(), "10".into()));
        assert_eq!(got[15], ("json.d".into(), "x".into()));
        let (got, _) = run("7");
        assert_eq!(got, [("json".to_string(), "7".to_string())]);
    }

    #[test]
    fn strings_unescape_after_a_plain_run() {
        let (got, r) = run(r#"{"k":"ab\ncd\u00e9f","q":"plain","u":"é\"x"}"#);
        assert_eq!(r, Ok(()));
        assert_eq!(got[0].1, "ab\ncd\u{e9}f");
        assert_eq!(got[1].1, "plain");
        assert_eq!(got[2].1, "é\"x");
        assert!(run("[\"ab\u{1}\"]").1.is_err());
        assert!(run("[\"abc").1.is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(lex_number(b"-0.5e+3,"), Ok(7));
        assert_eq!(lex_number(b"012"), Ok(1));
        assert!(lex_number(b"-").is_err());
        assert!(lex_number(b"1.").is_err());
        assert!(lex_number(b"1e").is_err());
    }

    #[test]
    fn utf8_checks() {
        assert_eq!(utf8_len("é".as_bytes()), Some(2));
        assert_eq!(utf8_len(b"\xc0\xaf"), Some(2));
        assert_eq!(utf8_len(b"\xff"), None);
        assert_eq!(utf8_len(b"\xe2\x82"), None);
    }
}
