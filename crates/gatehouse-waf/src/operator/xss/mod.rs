//! `@detectXSS`: our own take on libinjection's XSS idea. The input is run
//! through an HTML5-style tokenizer as if it had landed in a page in each
//! place a reflected value ends up (between tags, inside an unquoted,
//! single-, double- or back-quoted attribute value), and flagged when a
//! token would run script: a dangerous element, an event handler, a script
//! URL, an IE expression, a conditional comment, and so on.
//!
//! Benign markup (`<b>`, `<a href="https://...">`) passes: only what can
//! execute counts.

mod blacklist;
mod decode;
mod tokenizer;

#[cfg(test)]
mod tests;

use blacklist::Attr;
use tokenizer::{is_space, Start, Token, Tokenizer};

/// Which of the bytes that can change a tokenizer's course `input` holds.
#[derive(Default)]
struct Present {
    lt: bool,
    gt: bool,
    eq: bool,
    space: bool,
    single: bool,
    double: bool,
    back: bool,
}

impl Present {
    fn of(input: &[u8]) -> Present {
        let mut p = Present::default();
        for &b in input {
            match b {
                b'<' => p.lt = true,
                b'>' => p.gt = true,
                b'=' => p.eq = true,
                b'\'' => p.single = true,
                b'"' => p.double = true,
                b'`' => p.back = true,
                _ if is_space(b) => p.space = true,
                _ => {}
            }
        }
        p
    }
}

/// Whether `input` holds HTML or script that would run in a page.
///
/// Every finding needs a tag (`<`) or an attribute value (`=`), except a
/// whole input that is a script URL (a reflected `href` or redirect
/// target), so values with neither cost one scan.
pub fn detect(input: &[u8]) -> bool {
    if blacklist::script_url(input, true) {
        return true;
    }
    let p = Present::of(input);
    if !p.lt && !p.eq {
        return false;
    }
    if p.lt && scan(input, Start::Data) {
        return true;
    }
    // An attribute-value start only matters once the value can end.
    (p.space || p.gt) && scan(input, Start::Unquoted)
        || p.single && scan(input, Start::Quoted(b'\''))
        || p.double && scan(input, Start::Quoted(b'"'))
        || p.back && scan(input, Start::Quoted(b'`'))
}

/// Tokenizes from `start` reading every element as markup and, if a
/// raw-text element (`<title>`, `<noscript>`, ...) went by, again the way a
/// browser with scripting on reads them: mutation XSS hides a tag in an
/// attribute for one reading and exposes it for the other.
fn scan(input: &[u8], start: Start) -> bool {
    let mut tokens = Tokenizer::new(input, start, false);
    if judge(&mut tokens) {
        return true;
    }
    tokens.saw_raw_text && judge(&mut Tokenizer::new(input, start, true))
}

/// Whether any token of the stream is dangerous.
///
/// An event handler with an empty value (`onx=` at the end, `onx=>`) runs
/// nothing; it still counts inside a tag the input opened itself (`<x
/// onend=`, a probe), but not in an attribute-value start, where base64
/// padding after a `+` turned space (`...+onAbc=`) looks just like it.
fn judge(tokens: &mut Tokenizer<'_>) -> bool {
    let mut attr = Attr::Plain;
    let mut own_tag = false;
    while let Some(token) = tokens.next_token() {
        let bad = match token {
            Token::TagOpen(name) => {
                attr = Attr::Plain;
                own_tag = true;
                blacklist::dangerous_tag(name)
            }
            Token::AttrName(name) => {
                attr = blacklist::attr(name);
                false
            }
            Token::AttrValue(value) => {
                let bad = blacklist::dangerous_value(attr, value)
                    || (own_tag && value.is_empty() && attr == Attr::Black);
                attr = Attr::Plain;
                bad
            }
            Token::TagClose(_) | Token::TagEnd => {
                attr = Attr::Plain;
                own_tag = false;
                false
            }
            Token::Comment(body) => blacklist::dangerous_comment(body, true),
            Token::Bogus(body) => blacklist::dangerous_comment(body, false),
            Token::Doctype(body) => blacklist::dangerous_doctype(body),
            Token::CData(body) => blacklist::dangerous_cdata(body),
        };
        if bad {
            return true;
        }
    }
    false
}
