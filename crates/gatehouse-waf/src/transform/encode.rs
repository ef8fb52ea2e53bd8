//! Encoding transformations: utf8toUnicode, urlEncode, hexEncode,
//! base64Encode, length and the sha1/md5 digests.

use std::borrow::Cow;

use base64::Engine as _;

use super::Out;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// utf8toUnicode: each well-formed 2-4 byte UTF-8 sequence becomes `%uHHHH`
/// (lowercase, at least four digits). The quirks of libmodsecurity are kept:
/// a lead byte whose sequence is invalid or truncated is dropped (its
/// continuation bytes are then copied one by one), overlong forms and
/// surrogates are followed by a copy of their lead byte, leads F5-F7 are
/// also copied before their `%u`, and a NUL is dropped unless it is last.
pub(super) fn utf8_to_unicode(input: &[u8]) -> Cow<'_, [u8]> {
    let n = input.len();
    let mut out = Out::new(input);
    // Continuation byte at `i`; past the end reads the C string's NUL.
    let cont = |i: usize| i < n && input[i] & 0xc0 == 0x80;
    let mut i = 0;
    while i < n {
        let c = input[i];
        let width = match c {
            0x00..=0x7f => {
                if c != 0 || i + 1 >= n {
                    out.push(c);
                }
                i += 1;
                continue;
            }
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => {
                out.push(c);
                i += 1;
                continue;
            }
        };
        if width == 4 && c >= 0xf5 {
            out.push(c);
        }
        if !(1..width).all(|k| cont(i + k)) {
            i += 1;
            continue;
        }
        let lead_bits = u32::from(c) & (0x7f >> width);
        let d = input[i + 1..i + width]
            .iter()
            .fold(lead_bits, |d, &b| (d << 6) | u32::from(b & 0x3f));
        out.extend(b"%u");
        let digits = format!("{d:04x}");
        out.extend(digits.as_bytes());
        if (0xd800..=0xdfff).contains(&d) {
            out.push(c);
        }
        let min = [0, 0, 0x80, 0x800, 0x10000][width];
        if d < min {
            out.push(c);
        }
        i += width;
    }
    out.finish()
}

/// urlEncode: only `*`, digits and ASCII letters are kept; space becomes
/// `+`, everything else `%hh` (lowercase).
pub(super) fn url_encode(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Out::new(input);
    for &b in input {
        if b == b' ' {
            out.push(b'+');
        } else if b == b'*' || b.is_ascii_alphanumeric() {
            out.push(b);
        } else {
            out.extend(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
        }
    }
    out.finish()
}

/// hexEncode: two lowercase hex digits per byte.
pub(super) fn hex_encode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_empty() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() * 2);
    for &b in input {
        out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
    }
    Cow::Owned(out)
}

/// base64Encode: standard alphabet with padding.
pub(super) fn base64_encode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_empty() {
        return Cow::Borrowed(input);
    }
    Cow::Owned(
        base64::engine::general_purpose::STANDARD
            .encode(input)
            .into_bytes(),
    )
}

/// length: the byte length in decimal.
pub(super) fn length(input: &[u8]) -> Cow<'_, [u8]> {
    let len = input.len().to_string().into_bytes();
    if len == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(len)
    }
}

/// sha1: the raw 20-byte digest (CRS hex-encodes it itself when needed).
pub(super) fn sha1(input: &[u8]) -> Cow<'_, [u8]> {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, input);
    Cow::Owned(digest.as_ref().to_vec())
}

/// md5: the raw 16-byte digest.
pub(super) fn md5(input: &[u8]) -> Cow<'_, [u8]> {
    Cow::Owned(md5_digest(input).to_vec())
}

/// MD5 (RFC 1321), implemented here because ring has none.
fn md5_digest(input: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    // K[i] = floor(abs(sin(i + 1)) * 2^32), spelled out to stay exact.
    const K: [u32; 64] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613,
        0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193,
        0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d,
        0x02441453, 0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed,
        0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122,
        0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
        0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244,
        0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb,
        0xeb86d391,
    ];
    let mut state: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

    let mut tail = Vec::with_capacity(128);
    let whole = input.len() - input.len() % 64;
    tail.extend_from_slice(&input[whole..]);
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    let bits = (input.len() as u64).wrapping_mul(8);
    tail.extend_from_slice(&bits.to_le_bytes());

    for block in input[..whole].chunks_exact(64).chain(tail.chunks_exact(64)) {
        let mut m = [0u32; 16];
        for (w, bytes) in m.iter_mut().zip(block.chunks_exact(4)) {
            *w = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        let [mut a, mut b, mut c, mut d] = state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(K[i])
                .wrapping_add(m[g])
                .rotate_left(S[i]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }

    let mut digest = [0u8; 16];
    for (out, word) in digest.chunks_exact_mut(4).zip(state) {
        out.copy_from_slice(&word.to_le_bytes());
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::md5_digest;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn md5_rfc1321_suite() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"a", "0cc175b9c0f1b6a831c399e269772661"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                b"abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(hex(&md5_digest(input)), want, "{input:?}");
        }
    }

    #[test]
    fn md5_block_boundaries() {
        // Lengths around the 56/64-byte padding edges; checked against
        // `md5sum` of the same `a` runs.
        let cases = [
            (55, "ef1772b6dff9a122358552954ad0df65"),
            (56, "3b0c8ac703f828b04c6c197006d17218"),
            (63, "b06521f39153d618550606be297466d5"),
            (64, "014842d480b571495a4a0363793f7367"),
            (65, "c743a45e0d2e6a95cb859adae0248435"),
        ];
        for (len, want) in cases {
            assert_eq!(hex(&md5_digest(&vec![b'a'; len])), want, "{len}");
        }
    }
}
