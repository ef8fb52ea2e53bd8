//! Request line, URI, query string and cookies, parsed as libmodsecurity
//! v3's `processURI` and `addRequestHeader` do.

use super::{ArgSource, Limits, RequestVars};

/// C `isspace` in the "C" locale, which v3's trimming uses.
pub(super) fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// A `%XX` escape at the start of `s`, if both digits are hex.
fn pct(s: &[u8]) -> Option<u8> {
    match s {
        [b'%', h, l, ..] => Some(hex_val(*h)? << 4 | hex_val(*l)?),
        _ => None,
    }
}

/// v3's `urldecode_nonstrict`: `+` is a space, a bad `%` stays as it is.
/// Also says whether a bad escape was seen (`URLENCODED_ERROR`).
pub(super) fn url_decode_nonstrict(input: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(input.len());
    let mut invalid = false;
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => match pct(&input[i..]) {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => {
                    invalid = true;
                    out.push(b'%');
                }
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    (out, invalid)
}

/// v3's `uri_decode`, used for the path and REQUEST_URI: `%XX` only.
pub(super) fn uri_decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if let Some(b) = pct(&input[i..]) {
            out.push(b);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    out
}

/// Splits as C++ `getline` does: a trailing empty piece does not count, a
/// leading or inner one does (`"&a"` has two pieces, `"a&"` one).
pub(super) fn split_getline(buf: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    let body = buf.strip_suffix(&[sep]).unwrap_or(buf);
    let count = if buf.is_empty() { 0 } else { usize::MAX };
    body.split(move |&c| c == sep).take(count)
}

/// v3's Cookie header parsing: split on `;`, the last piece right-trimmed,
/// each name left-trimmed, split at the first `=`; a piece without `=` is
/// a name with an empty value; empty names are skipped. Nothing is decoded.
pub(super) fn parse_cookies(value: &[u8], out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    let pieces: Vec<&[u8]> = split_getline(value, b';').collect();
    let last = pieces.len().saturating_sub(1);
    for (i, mut piece) in pieces.into_iter().enumerate() {
        if i == last {
            while let [rest @ .., c] = piece {
                if !is_c_space(*c) {
                    break;
                }
                piece = rest;
            }
        }
        if piece.is_empty() {
            continue;
        }
        let (mut name, val) = match piece.iter().position(|&c| c == b'=') {
            Some(p) => (&piece[..p], &piece[p + 1..]),
            None => (piece, &b""[..]),
        };
        while let [c, rest @ ..] = name {
            if !is_c_space(*c) {
                break;
            }
            name = rest;
        }
        if !name.is_empty() {
            out.push((name.to_vec(), val.to_vec()));
        }
    }
}

/// REQUEST_URI: the decoded URI, cut to its path for an absolute-form
/// target (`scheme://host/path`), left whole when there is no path.
fn request_uri(decoded: Vec<u8>) -> Vec<u8> {
    if decoded.first().is_none_or(|&c| c == b'/') {
        return decoded;
    }
    let Some(colon) = decoded.iter().position(|&c| c == b':') else {
        return decoded;
    };
    let netloc = colon + 3;
    if !decoded[colon + 1..].starts_with(b"//") {
        return decoded;
    }
    match decoded[netloc..].iter().position(|&c| c == b'/') {
        Some(p) => decoded[netloc + p..].to_vec(),
        None => decoded,
    }
}

impl RequestVars {
    /// v3's `processURI`: the request line variables and ARGS_GET.
    pub(super) fn set_request_line(
        &mut self,
        method: &str,
        uri: &[u8],
        protocol: &str,
        limits: &Limits,
    ) {
        let no_frag = match uri.iter().position(|&c| c == b'#') {
            Some(p) => &uri[..p],
            None => uri,
        };
        let (path, query) = match no_frag.iter().position(|&c| c == b'?') {
            Some(p) => (&no_frag[..p], Some(&no_frag[p + 1..])),
            None => (no_frag, None),
        };
        self.request_method = method.as_bytes().to_vec();
        self.request_protocol = protocol.as_bytes().to_vec();
        let mut line = Vec::with_capacity(method.len() + uri.len() + protocol.len() + 2);
        line.extend_from_slice(method.as_bytes());
        line.push(b' ');
        line.extend_from_slice(uri);
        line.push(b' ');
        line.extend_from_slice(protocol.as_bytes());
        self.request_line = line;
        self.request_uri_raw = uri.to_vec();
        self.request_uri = request_uri(uri_decode(no_frag));
        self.request_filename = uri_decode(path);
        self.request_basename = match self
            .request_filename
            .iter()
            .rposition(|&c| c == b'/' || c == b'\\')
        {
            Some(p) => self.request_filename[p + 1..].to_vec(),
            None => Vec::new(),
        };
        if let Some(q) = query {
            self.query_string = q.to_vec();
            if !q.is_empty() {
                self.extract_args(ArgSource::Get, q, limits);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getline_split() {
        let pieces = |s: &[u8]| {
            split_getline(s, b'&')
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        };
        assert!(pieces(b"").is_empty());
        assert_eq!(pieces(b"&"), vec![b"".to_vec()]);
        assert_eq!(pieces(b"a&"), vec![b"a".to_vec()]);
        assert_eq!(pieces(b"&a"), vec![b"".to_vec(), b"a".to_vec()]);
        assert_eq!(pieces(b"a&&b").len(), 3);
    }

    #[test]
    fn decoders() {
        assert_eq!(
            url_decode_nonstrict(b"a+b%41%4"),
            (b"a bA%4".to_vec(), true)
        );
        assert_eq!(url_decode_nonstrict(b"%zz"), (b"%zz".to_vec(), true));
        assert_eq!(url_decode_nonstrict(b"%2b"), (b"+".to_vec(), false));
        assert_eq!(uri_decode(b"/a+b%2F%"), b"/a+b/%".to_vec());
    }

    #[test]
    fn cookies_as_v3_parses_them() {
        let c = |values: &[&str]| {
            let mut out = Vec::new();
            for v in values {
                parse_cookies(v.as_bytes(), &mut out);
            }
            let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            out.iter().map(|(n, v)| (s(n), s(v))).collect::<Vec<_>>()
        };
        let p = |l: &[(&str, &str)]| {
            l.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(c(&["a=1;b=2;"]), p(&[("a", "1"), ("b", "2")]));
        assert_eq!(c(&["  x = y ; z"]), p(&[("x ", " y "), ("z", "")]));
        assert_eq!(
            c(&[";;foo=bar", "=skip; c=d"]),
            p(&[("foo", "bar"), ("c", "d")])
        );
        assert_eq!(
            c(&["foo=bar=baz; e=%41"]),
            p(&[("foo", "bar=baz"), ("e", "%41")])
        );
        assert_eq!(c(&["a=1; \t"]), p(&[("a", "1")]));
        assert_eq!(c(&["flag"]), p(&[("flag", "")]));
        assert!(c(&["", " ", ";", "\t=x"]).is_empty());
    }

    #[test]
    fn absolute_form() {
        let ru = |s: &[u8]| request_uri(s.to_vec());
        assert_eq!(ru(b"http://h:80/p?q"), b"/p?q".to_vec());
        assert_eq!(ru(b"http://h"), b"http://h".to_vec());
        assert_eq!(ru(b"*"), b"*".to_vec());
        assert_eq!(ru(b"a:b/c"), b"a:b/c".to_vec());
    }
}
