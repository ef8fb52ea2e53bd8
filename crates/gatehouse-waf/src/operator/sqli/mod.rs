//! `@detectSQLi`: our own take on libinjection's SQLi idea.
//!
//! The input is tokenized as SQL ([`token`]), folded to its shape
//! ([`fold`]), and judged by a small grammar ([`decide`]) rather than a
//! fingerprint table. Like libinjection it reads the input three ways: as
//! is (a number or word the query did not quote), and as if it followed a
//! single or a double quote (a value placed inside a string literal), the
//! latter two only when the input holds that quote, since only then can
//! it close the string.
//!
//! The fingerprint returned (for TX:0) uses libinjection's letters: `s`
//! string, `1` number, `n` bareword, `k` keyword, `E` statement, `U`
//! union, `&` logic, `o` operator, `f` function, `v` variable, `c`
//! comment, `(` `)` `,` `;` and `X` for evil.

mod decide;
mod fold;
mod token;
mod words;

#[cfg(test)]
mod tests;

use fold::Folded;

/// The token fingerprint of `input` when it reads as SQL injection.
pub fn detect(input: &[u8]) -> Option<String> {
    if input.is_empty() {
        return None;
    }
    let (single, double) = input.iter().fold((false, false), |(s, d), &b| {
        (s || b == b'\'', d || b == b'"')
    });
    [(None, true), (Some(b'\''), single), (Some(b'"'), double)]
        .into_iter()
        .filter(|&(_, present)| present)
        .find_map(|(quote, _)| {
            let folded = Folded::new(input, quote);
            decide::is_injection(folded.tokens(), quote.is_some(), folded.truncated)
                .then(|| folded.fingerprint())
        })
}
