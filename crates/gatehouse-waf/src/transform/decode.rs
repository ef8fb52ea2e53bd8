//! Decoding transformations: URL, HTML entity, JavaScript, CSS, ANSI C,
//! SQL hex, hex and base64.

use std::borrow::Cow;

use super::{is_c_space, is_hex, is_odigit, unicode_low_byte, x2c, xsingle, Out};

/// urlDecode / urlDecodeUni: `%XX` and `+`; with `uni`, also IIS `%uHHHH`.
/// Invalid or truncated escapes are copied through, one `%` (or `%u`) at a
/// time, so what follows them is still decoded.
pub(super) fn url_decode(input: &[u8], uni: bool) -> Cow<'_, [u8]> {
    if memchr::memchr2(b'%', b'+', input).is_none() {
        return Cow::Borrowed(input);
    }
    let n = input.len();
    let mut out = Out::new(input);
    let mut i = 0;
    while i < n {
        match input[i] {
            b'%' if uni && i + 1 < n && (input[i + 1] | 0x20) == b'u' => {
                if i + 5 < n && input[i + 2..i + 6].iter().all(|&b| is_hex(b)) {
                    out.push(unicode_low_byte(&input[i + 2..i + 6]));
                    i += 6;
                } else {
                    out.extend(&input[i..i + 2]);
                    i += 2;
                }
            }
            b'%' if i + 2 < n && is_hex(input[i + 1]) && is_hex(input[i + 2]) => {
                out.push(x2c(input[i + 1], input[i + 2]));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                // Up to the next escape in one copy (a `%` that opens
                // none is copied on its own).
                let rest = &input[i..];
                let run = memchr::memchr2(b'%', b'+', &rest[1..]).map_or(rest.len(), |k| k + 1);
                out.extend(&rest[..run]);
                i += run;
            }
        }
    }
    out.finish()
}

/// `(unsigned char) strtol(digits, NULL, radix)`: the low byte of the value,
/// or 0xff once strtol saturates at `LONG_MAX`.
fn entity_byte(digits: &[u8], radix: u32) -> u8 {
    let mut v: u64 = 0;
    for &d in digits {
        let x = u64::from(char::from(d).to_digit(radix).unwrap_or(0));
        match v
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(x))
        {
            Some(next) if next <= i64::MAX as u64 => v = next,
            _ => return 0xff,
        }
    }
    v as u8
}

/// The only named entities ModSecurity knows; the name must match whole.
fn named_entity(name: &[u8]) -> Option<u8> {
    const NAMED: [(&[u8], u8); 5] = [
        (b"quot", b'"'),
        (b"amp", b'&'),
        (b"lt", b'<'),
        (b"gt", b'>'),
        (b"nbsp", 0xa0),
    ];
    NAMED
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, b)| b)
}

/// htmlEntityDecode: `&#DDD;`, `&#xHH;` (the `;` optional, any number of
/// digits, one output byte) and five named entities. Anything else,
/// including the `&#`/`&#x` prefix of an entity without digits, is copied.
/// Digits are unbounded as in v2 and v3 up to 3.0.12: 3.0.13 capped them at
/// 2 hex/3 decimal, which broke `&#0000123;` (CVE-2025-27110).
pub(super) fn html_entity_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'&') {
        return Cow::Borrowed(input);
    }
    let n = input.len();
    let mut out = Out::new(input);
    let mut i = 0;
    // Finishes an entity ending before `j`: a following `;` is swallowed.
    let after = |j: usize| if j < n && input[j] == b';' { j + 1 } else { j };
    while i < n {
        if input[i] != b'&' || i + 1 >= n {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let mut j = i + 1;
        if input[j] == b'#' {
            if j + 1 >= n {
                out.extend(&input[i..i + 2]);
                i += 2;
                continue;
            }
            j += 1;
            let hex = (input[j] | 0x20) == b'x';
            if hex {
                if j + 1 >= n {
                    out.extend(&input[i..i + 3]);
                    i += 3;
                    continue;
                }
                j += 1;
            }
            let (radix, prefix, is_digit): (u32, usize, fn(&u8) -> bool) = if hex {
                (16, 3, u8::is_ascii_hexdigit)
            } else {
                (10, 2, u8::is_ascii_digit)
            };
            let k = j;
            while j < n && is_digit(&input[j]) {
                j += 1;
            }
            if j > k {
                out.push(entity_byte(&input[k..j], radix));
                i = after(j);
            } else {
                out.extend(&input[i..i + prefix]);
                i += prefix;
            }
        } else {
            while j < n && input[j].is_ascii_alphanumeric() {
                j += 1;
            }
            match named_entity(&input[i + 1..j]) {
                Some(b) => {
                    out.push(b);
                    i = after(j);
                }
                None => {
                    // The `&` and the name; a `;` after it is copied as text.
                    let end = j.max(i + 1);
                    out.extend(&input[i..end]);
                    i = end;
                }
            }
        }
    }
    out.finish()
}

/// Value of up to three octal digits (the caller bounds the count).
fn octal(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0, |v, &d| v * 8 + u32::from(d.wrapping_sub(b'0')))
}

/// Number of consecutive octal digits at `input[from..]`, at most three.
fn octal_run(input: &[u8], from: usize) -> usize {
    input[from..]
        .iter()
        .take(3)
        .take_while(|&&b| is_odigit(b))
        .count()
}

/// The C escape letters both jsDecode and escapeSeqDecode understand.
fn c_escape(b: u8) -> Option<u8> {
    Some(match b {
        b'a' => 0x07,
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 0x0b,
        _ => return None,
    })
}

/// jsDecode: `\uHHHH` (low byte, full-width ASCII folded), `\xHH`, octal
/// `\OOO` (two digits only when three would exceed a byte), C escapes, and
/// `\c` → `c` for anything else. A lone trailing `\` stays.
pub(super) fn js_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let n = input.len();
    let mut out = Out::new(input);
    let mut i = 0;
    while i < n {
        if input[i] != b'\\' || i + 1 >= n {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let c = input[i + 1];
        if c == b'u' && i + 5 < n && input[i + 2..i + 6].iter().all(|&b| is_hex(b)) {
            out.push(unicode_low_byte(&input[i + 2..i + 6]));
            i += 6;
        } else if c == b'x' && i + 3 < n && is_hex(input[i + 2]) && is_hex(input[i + 3]) {
            out.push(x2c(input[i + 2], input[i + 3]));
            i += 4;
        } else if is_odigit(c) {
            let mut len = octal_run(input, i + 1);
            if len == 3 && c > b'3' {
                len = 2;
            }
            out.push(octal(&input[i + 1..i + 1 + len]) as u8);
            i += 1 + len;
        } else {
            out.push(c_escape(c).unwrap_or(c));
            i += 2;
        }
    }
    out.finish()
}

/// cssDecode (CSS 2.1): `\` + 1-6 hex digits, of which only the last two
/// count (with the full-width fold for 4 digits, or 5-6 with leading zeros),
/// then one optional whitespace swallowed; `\` + newline vanishes; `\c` → `c`;
/// a trailing `\` is dropped.
pub(super) fn css_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let n = input.len();
    let mut out = Out::new(input);
    let mut i = 0;
    while i < n {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        i += 1;
        if i >= n {
            break;
        }
        let j = input[i..]
            .iter()
            .take(6)
            .take_while(|&&b| is_hex(b))
            .count();
        if j == 0 {
            if input[i] != b'\n' {
                out.push(input[i]);
            }
            i += 1;
            continue;
        }
        let digits = &input[i..i + j];
        let mut c = if j == 1 {
            xsingle(digits[0])
        } else {
            x2c(digits[j - 2], digits[j - 1])
        };
        let full_check = match j {
            4 => true,
            5 => digits[0] == b'0',
            6 => digits[0] == b'0' && digits[1] == b'0',
            _ => false,
        };
        if full_check
            && c > 0
            && c < 0x5f
            && (digits[j - 3] | 0x20) == b'f'
            && (digits[j - 4] | 0x20) == b'f'
        {
            c += 0x20;
        }
        out.push(c);
        i += j;
        if i < n && is_c_space(input[i]) {
            i += 1;
        }
    }
    out.finish()
}

/// escapeSeqDecode: ANSI C escapes, `\xHH`/`\XHH` and up to three octal
/// digits (the value wraps to a byte). Unknown or malformed escapes lose the
/// backslash; a lone trailing `\` stays.
pub(super) fn escape_seq_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let n = input.len();
    let mut out = Out::new(input);
    let mut i = 0;
    while i < n {
        if input[i] != b'\\' || i + 1 >= n {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let c = input[i + 1];
        if let Some(e) = c_escape(c) {
            out.push(e);
            i += 2;
        } else if matches!(c, b'\\' | b'?' | b'\'' | b'"') {
            out.push(c);
            i += 2;
        } else if (c | 0x20) == b'x' && i + 3 < n && is_hex(input[i + 2]) && is_hex(input[i + 3]) {
            out.push(x2c(input[i + 2], input[i + 3]));
            i += 4;
        } else if is_odigit(c) {
            let len = octal_run(input, i + 1);
            out.push(octal(&input[i + 1..i + 1 + len]) as u8);
            i += 1 + len;
        } else {
            out.push(c);
            i += 2;
        }
    }
    out.finish()
}

/// sqlHexDecode: `0x` + hex pairs (at least one) decoded; an odd last digit
/// stays as text.
pub(super) fn sql_hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let n = input.len();
    let mut out = Out::new(input);
    let mut i = 0;
    while i < n {
        if i + 3 < n
            && input[i] == b'0'
            && (input[i + 1] | 0x20) == b'x'
            && is_hex(input[i + 2])
            && is_hex(input[i + 3])
        {
            i += 2;
            while i + 1 < n && is_hex(input[i]) && is_hex(input[i + 1]) {
                out.push(x2c(input[i], input[i + 1]));
                i += 2;
            }
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out.finish()
}

/// hexDecode: every pair decoded without validation (invalid digits give
/// ModSecurity's arithmetic garbage); an odd last digit is dropped.
pub(super) fn hex_decode(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Out::new(input);
    for pair in input.chunks_exact(2) {
        out.push(x2c(pair[0], pair[1]));
    }
    out.finish()
}

/// Value of a standard base64 digit.
fn b64_value(b: u8) -> Option<u32> {
    let v = match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// base64Decode as libmodsecurity does it through mbedtls: the input ends
/// at the first NUL, line breaks (and spaces right before them) are
/// ignored, and any other invalid byte, misplaced `=` or more than two `=`
/// makes the whole result empty. A trailing partial quantum is dropped.
pub(super) fn base64_decode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_empty() {
        return Cow::Borrowed(input);
    }
    let data = &input[..input.iter().position(|&b| b == 0).unwrap_or(input.len())];
    if !base64_strict_valid(data) {
        return Cow::Owned(Vec::new());
    }
    let mut out = Out::new(input);
    let (mut x, mut digits, mut equals) = (0u32, 0, 0);
    for &b in data {
        if matches!(b, b'\r' | b'\n' | b' ') {
            continue;
        }
        x <<= 6;
        match b64_value(b) {
            Some(v) => x |= v,
            None => equals += 1,
        }
        digits += 1;
        if digits == 4 {
            digits = 0;
            out.push((x >> 16) as u8);
            if equals <= 1 {
                out.push((x >> 8) as u8);
            }
            if equals == 0 {
                out.push(x as u8);
            }
        }
    }
    out.finish()
}

/// mbedtls' validation pass.
fn base64_strict_valid(data: &[u8]) -> bool {
    let n = data.len();
    let (mut i, mut equals) = (0, 0);
    while i < n {
        let mut spaces = false;
        while i < n && data[i] == b' ' {
            i += 1;
            spaces = true;
        }
        if i == n {
            break;
        }
        let b = data[i];
        i += 1;
        if (b == b'\r' && i < n && data[i] == b'\n') || b == b'\n' {
            continue;
        }
        if spaces {
            return false;
        }
        if b == b'=' {
            equals += 1;
            if equals > 2 {
                return false;
            }
        } else if equals != 0 || b64_value(b).is_none() {
            return false;
        }
    }
    true
}

/// base64DecodeExt (ModSecurity's "forgiven" decoder): bytes outside the
/// alphabet are skipped, a partial last quantum still yields its whole
/// bytes. It gives up (empty result) on a single `=` after a lone digit of
/// a quantum, or when the input ends in `=` or `9` (both compare equal to
/// the pad there) on such a digit.
pub(super) fn base64_decode_ext(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_empty() {
        return Cow::Borrowed(input);
    }
    let mut out = Out::new(input);
    let (mut count, mut cur, mut last) = (0usize, 0u8, None);
    for (pos, &b) in input.iter().enumerate() {
        if b == b'=' {
            last = Some(61);
            if input.get(pos + 1) != Some(&b'=') && count % 4 == 1 {
                return Cow::Owned(Vec::new());
            }
            continue;
        }
        let Some(v) = b64_value(b) else {
            last = None;
            continue;
        };
        last = Some(v);
        let v = v as u8;
        match count % 4 {
            0 => cur = v << 2,
            1 => {
                out.push(cur | v >> 4);
                cur = (v & 0x0f) << 4;
            }
            2 => {
                out.push(cur | v >> 2);
                cur = (v & 0x03) << 6;
            }
            _ => out.push(cur | v),
        }
        count += 1;
    }
    if last == Some(61) && count % 4 == 1 {
        return Cow::Owned(Vec::new());
    }
    out.finish()
}
