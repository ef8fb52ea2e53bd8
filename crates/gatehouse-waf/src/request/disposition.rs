//! The two header parsers of the multipart processor: the boundary in the
//! request's Content-Type, and a part's Content-Disposition, with the
//! checks and `MULTIPART_*` flags of libmodsecurity v3 (`Multipart::init`,
//! `parse_content_disposition`).

use super::multipart::MultipartFlags;
use super::uri::is_c_space;

/// Occurrences of `boundary` (any case) with an `=` somewhere after them.
fn count_boundary_params(s: &[u8]) -> usize {
    let lower = s.to_ascii_lowercase();
    let mut count = 0;
    let mut from = 0;
    while let Some(p) = find(&lower[from..], b"boundary") {
        from += p + 8;
        if lower[from..].contains(&b'=') {
            count += 1;
        }
    }
    count
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// RFC 2046 boundary characters; a space is allowed except last.
fn boundary_chars_valid(b: &[u8]) -> bool {
    b.iter().enumerate().all(|(i, &c)| {
        c.is_ascii_alphanumeric() || b"'()+_,-./:=?".contains(&c) || (c == b' ' && i + 1 < b.len())
    })
}

/// The boundary of a `multipart/form-data` Content-Type. Sets the
/// missing-semicolon, whitespace and quoted flags on the way.
pub(super) fn parse_boundary(
    ct: &[u8],
    flags: &mut MultipartFlags,
) -> Result<Vec<u8>, &'static str> {
    const MIME: &[u8] = b"multipart/form-data";
    if ct.is_empty() {
        return Err("Multipart: Content-Type header not available.");
    }
    if ct.len() > 1024 {
        return Err("Multipart: Invalid boundary in C-T (length).");
    }
    if !ct
        .get(..MIME.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(MIME))
    {
        return Err("Multipart: Invalid MIME type.");
    }
    if count_boundary_params(ct) > 1 {
        return Err("Multipart: Multiple boundary parameters in C-T.");
    }
    // v3 looks the parameter up case-sensitively.
    let Some(at) = find(ct, b"boundary") else {
        return Err(if count_boundary_params(ct) > 0 {
            "Multipart: Invalid boundary in C-T (case sensitivity)."
        } else {
            "Multipart: Boundary not found in C-T."
        });
    };
    let mut seen_semicolon = false;
    for &c in ct.get(MIME.len()..at).unwrap_or_default() {
        if is_c_space(c) {
            continue;
        }
        if c == b';' && !seen_semicolon {
            seen_semicolon = true;
        } else {
            return Err("Multipart: Invalid boundary in C-T (characters before).");
        }
    }
    flags.missing_semicolon |= !seen_semicolon;
    let after_name = at + 8;
    let Some(eq) = ct[after_name..]
        .iter()
        .position(|&c| c == b'=')
        .map(|p| after_name + p)
    else {
        return Err("Multipart: Invalid boundary in C-T (malformed).");
    };
    for &c in &ct[after_name..eq] {
        if is_c_space(c) {
            flags.boundary_whitespace = true;
        } else {
            return Err("Multipart: Invalid boundary in C-T (parameter name).");
        }
    }
    let value = &ct[eq + 1..];
    if value.first().is_some_and(|&c| is_c_space(c)) {
        flags.boundary_whitespace = true;
    }
    let mut boundary = match value {
        [b'"', inner @ .., b'"'] => {
            flags.boundary_quoted = true;
            inner.to_vec()
        }
        [b'"', ..] | [.., b'"'] => return Err("Multipart: Invalid boundary in C-T (quote)."),
        _ => value.to_vec(),
    };
    if count_boundary_params(&boundary) != 0 {
        return Err("Multipart: Invalid boundary in C-T (content).");
    }
    // A charset parameter after the boundary is tolerated, as in v3.
    if !boundary_chars_valid(&boundary) {
        if let Some(p) = boundary.iter().position(|&c| c == b';') {
            boundary.truncate(p);
        }
    }
    if !boundary_chars_valid(&boundary) {
        return Err("Multipart: Invalid boundary in C-T (characters).");
    }
    // v3 stops silently on an empty boundary; here it is an error.
    if boundary.is_empty() {
        return Err("Multipart: Invalid boundary in C-T (empty).");
    }
    Ok(boundary)
}

/// RFC 2616 token characters, as v3's `is_token_char`.
fn is_token_char(c: u8) -> bool {
    c > 32 && c < 127 && !b"()<>@,;:\\\"/[]?=".contains(&c)
}

/// `name` and `filename` of a Content-Disposition value; empty when absent.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Disposition {
    pub name: Vec<u8>,
    pub filename: Vec<u8>,
}

/// v3's `validate_quotes`: a `'` inside a value that was not in `"`.
fn validate_quotes(value: &[u8], quote: Option<u8>, flags: &mut MultipartFlags) {
    if quote != Some(b'"') && value.contains(&b'\'') {
        flags.invalid_quoting = true;
    }
}

/// Parses `form-data; name="a"; filename="b"`. The error is v3's negative
/// code (its message names it).
pub(super) fn parse_disposition(v: &[u8], flags: &mut MultipartFlags) -> Result<Disposition, i32> {
    let mut d = Disposition::default();
    let Some(rest) = v.strip_prefix(b"form-data") else {
        return Err(-1);
    };
    let ws = |s: &[u8], mut p: usize| {
        while s.get(p).is_some_and(|&c| c == b' ' || c == b'\t') {
            p += 1;
        }
        p
    };
    let mut p = ws(rest, 0);
    match rest.get(p) {
        None => return Ok(d),
        Some(b';') => p += 1,
        Some(_) => return Err(-2),
    }
    let mut filename_star = Vec::new();
    while p < rest.len() {
        p = ws(rest, p);
        if p == rest.len() {
            return Err(-3);
        }
        let start = p;
        while rest
            .get(p)
            .is_some_and(|&c| !matches!(c, b'=' | b' ' | b'\t'))
        {
            p += 1;
        }
        if p == rest.len() {
            return Err(-4);
        }
        let pname = &rest[start..p];
        p = ws(rest, p);
        match rest.get(p) {
            None => return Err(-5),
            Some(b'=') => p += 1,
            Some(_) => return Err(-13),
        }
        p = ws(rest, p);
        let Some(&first) = rest.get(p) else {
            return Err(-6);
        };
        let mut quote = None;
        let value = if pname == b"filename*" {
            let (value, end) = ext_value(rest, p)?;
            p = end;
            value
        } else if first == b'"' || first == b'\'' {
            quote = Some(first);
            if first == b'\'' {
                flags.invalid_quoting = true;
            }
            let (value, end) = quoted_value(rest, p + 1, first)?;
            p = end;
            value
        } else {
            let start = p;
            while rest.get(p).is_some_and(|&c| is_token_char(c)) {
                p += 1;
            }
            rest[start..p].to_vec()
        };
        match pname {
            b"name" => {
                validate_quotes(&value, quote, flags);
                if !d.name.is_empty() {
                    return Err(-14);
                }
                d.name = value;
            }
            b"filename" => {
                validate_quotes(&value, quote, flags);
                if !d.filename.is_empty() {
                    return Err(-15);
                }
                d.filename = value;
            }
            b"filename*" => {
                if !filename_star.is_empty() {
                    return Err(-20);
                }
                filename_star = value;
            }
            _ => return Err(-11),
        }
        if p < rest.len() {
            p = ws(rest, p);
            match rest.get(p) {
                None => {}
                Some(b';') => p += 1,
                Some(_) => {
                    // v3 looks at the byte before the offending one.
                    let prev = p.checked_sub(1).and_then(|q| rest.get(q));
                    if matches!(prev, Some(b'\'' | b'"')) {
                        flags.invalid_quoting = true;
                    }
                    return Err(-12);
                }
            }
        }
    }
    if !filename_star.is_empty() && d.filename.is_empty() {
        return Err(-21);
    }
    Ok(d)
}

/// A quoted value from `p` (after the opening quote): `\` escapes the quote
/// or itself and is kept before anything else. Returns it and the position
/// after the closing quote; an unclosed quote is an error (v3 reads on).
fn quoted_value(s: &[u8], mut p: usize, quote: u8) -> Result<(Vec<u8>, usize), i32> {
    if p >= s.len() {
        return Err(-7);
    }
    let mut value = Vec::new();
    loop {
        match s.get(p) {
            None => return Err(-7),
            Some(&c) if c == quote => return Ok((value, p + 1)),
            Some(b'\\') => match s.get(p + 1) {
                None => return Err(-8),
                Some(&n) if n == quote || n == b'\\' => {
                    value.push(n);
                    p += 2;
                }
                Some(_) => {
                    value.push(b'\\');
                    p += 1;
                }
            },
            Some(&c) => {
                value.push(c);
                p += 1;
            }
        }
    }
}

/// RFC 5987 `charset'[language]'value` of `filename*`, checked as v3 does.
fn ext_value(s: &[u8], mut p: usize) -> Result<(Vec<u8>, usize), i32> {
    let charset_start = p;
    while s
        .get(p)
        .is_some_and(|&c| c.is_ascii_alphanumeric() || b"!#$%&+-^_`{}~".contains(&c))
    {
        p += 1;
    }
    if s.get(p) != Some(&b'\'') || p == charset_start {
        return Err(-16);
    }
    p += 1;
    while s.get(p).is_some_and(|&c| c != b'\'') {
        p += 1;
    }
    if s.get(p) != Some(&b'\'') {
        return Err(-17);
    }
    p += 1;
    let start = p;
    while let Some(&c) = s.get(p) {
        if c == b';' {
            break;
        }
        if c == b'%' {
            let hex = |k: usize| s.get(p + k).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(1) && hex(2)) {
                return Err(-18);
            }
            p += 3;
        } else if c.is_ascii_alphanumeric() || b"!#$&+-.^_`~".contains(&c) {
            p += 1;
        } else {
            return Err(-19);
        }
    }
    Ok((s[start..p].to_vec(), p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disp(v: &str) -> (Result<Disposition, i32>, MultipartFlags) {
        let mut f = MultipartFlags::default();
        (parse_disposition(v.as_bytes(), &mut f), f)
    }

    #[test]
    fn disposition_values() {
        let (d, f) = disp(r#"form-data; name="a\"b"; filename=x.txt"#);
        let d = d.unwrap_or_default();
        assert_eq!(
            (d.name.as_slice(), d.filename.as_slice()),
            (&b"a\"b"[..], &b"x.txt"[..])
        );
        assert!(!f.invalid_quoting);
        assert_eq!(
            disp("form-data; name=a;").0.map(|d| d.name),
            Ok(b"a".to_vec())
        );
        assert_eq!(disp("attachment; name=a").0, Err(-1));
        assert_eq!(disp("form-data name=a").0, Err(-2));
        assert_eq!(disp("form-data; name=a; ").0, Err(-3));
        assert_eq!(disp("form-data; foo=a").0, Err(-11));
        assert_eq!(disp("form-data; name=a; name=b").0, Err(-14));
        assert_eq!(disp(r#"form-data; name="a"x"#).0, Err(-12));
        assert_eq!(disp(r#"form-data; name="a"#).0, Err(-7));
        assert_eq!(
            disp("form-data; name=a; filename*=utf-8''x%20y").0,
            Err(-21)
        );
        assert_eq!(disp("form-data; name=a; filename*=''x").0, Err(-16));
    }

    #[test]
    fn boundary_errors() {
        let b = |ct: &str| parse_boundary(ct.as_bytes(), &mut MultipartFlags::default());
        for (ct, msg) in [
            ("", "not available"),
            ("multipart/form-data", "Boundary not found"),
            ("multipart/form-data; Boundary=XyZ", "case sensitivity"),
            (
                "multipart/form-data; boundary=a; boundary=b",
                "Multiple boundary",
            ),
            ("multipart/form-data; boundary=\"XyZ", "(quote)"),
            ("multipart/form-data; boundary=XyZ\"", "(quote)"),
            ("multipart/form-data; boundary=a{b", "(characters)"),
            ("multipart/form-data; boundary=a ", "(characters)"),
            ("multipart/form-data; boundary=", "(empty)"),
            ("multipart/form-data; boundary=\"\"", "(empty)"),
            (
                "multipart/form-data; boundary=xboundary=y",
                "Multiple boundary",
            ),
            ("multipart/form-data; x; boundary=XyZ", "characters before"),
            ("multipart/form-data;; boundary=XyZ", "characters before"),
            ("multipart/form-data; boundary", "(malformed)"),
            ("multipart/form-data; boundaryx=XyZ", "(parameter name)"),
            ("text/plain; boundary=XyZ", "Invalid MIME type"),
        ] {
            let got = b(ct).err().unwrap_or_default();
            assert!(
                got.starts_with("Multipart: ") && got.contains(msg),
                "{ct}: {got}"
            );
        }
        assert!(b(&format!(
            "multipart/form-data; boundary=a{}",
            "a".repeat(1100)
        ))
        .is_err());
        // A charset after the boundary is tolerated; a space inside is not.
        assert_eq!(
            b("multipart/form-data; boundary=XyZ; charset=utf-8"),
            Ok(b"XyZ".to_vec())
        );
        assert_eq!(b("MULTIPART/FORM-DATA;boundary=a b"), Ok(b"a b".to_vec()));
    }

    #[test]
    fn quoting_flags() {
        assert!(disp("form-data; name='a'").1.invalid_quoting);
        assert!(disp("form-data; name=a'b").1.invalid_quoting);
        assert!(!disp(r#"form-data; name="a'b""#).1.invalid_quoting);
        assert!(disp(r#"form-data; name="a"x"#).1.invalid_quoting);
    }
}
