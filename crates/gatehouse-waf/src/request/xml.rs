//! The XML body processor, as far as the CRS reads it: `XML:/*` (the
//! document's string value: all text, CDATA included) and `XML://@*` (every
//! attribute value). No DTDs, no entities beyond the predefined and
//! numeric ones, no namespaces: nothing is fetched or expanded, so an XML
//! bomb costs its own length. Other XPath expressions see nothing.

/// What the CRS targets of an XML body hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XmlValues {
    /// The string value of the root element.
    pub text: Vec<u8>,
    pub attributes: Vec<Vec<u8>>,
}

/// Reads `body`; `Err` with a message when it holds no element or a tag
/// is never closed (libxml2 would refuse such a document).
pub fn parse(body: &[u8], max_attributes: usize) -> Result<XmlValues, String> {
    let mut out = XmlValues::default();
    let mut i = 0;
    let mut elements = 0usize;
    let n = body.len();
    while i < n {
        if body[i] != b'<' {
            let end = memchr(b'<', &body[i..]).map_or(n, |j| i + j);
            if elements > 0 {
                decode_into(&body[i..end], &mut out.text);
            }
            i = end;
            continue;
        }
        let rest = &body[i..];
        let skip_to = |marker: &[u8], from: usize| -> Option<usize> {
            find(&rest[from..], marker).map(|j| i + from + j + marker.len())
        };
        let next = if rest.starts_with(b"<!--") {
            skip_to(b"-->", 4)
        } else if rest.starts_with(b"<![CDATA[") {
            let end = find(&rest[9..], b"]]>").map(|j| 9 + j);
            if let Some(e) = end {
                out.text.extend_from_slice(&rest[9..e]);
            }
            end.map(|e| i + e + 3)
        } else if rest.starts_with(b"<?") {
            skip_to(b"?>", 2)
        } else if rest.starts_with(b"<!") {
            skip_to(b">", 2)
        } else {
            let end = tag_end(rest).map(|e| i + e);
            if let Some(e) = end {
                let tag = &body[i + 1..e - 1];
                if !tag.starts_with(b"/") {
                    elements += 1;
                    attributes(tag, &mut out.attributes, max_attributes);
                }
            }
            end
        };
        match next {
            Some(j) => i = j,
            None => return Err("XML parsing error: unterminated markup".to_string()),
        }
    }
    if elements == 0 {
        return Err("XML parsing error: no root element".to_string());
    }
    Ok(out)
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The index after the `>` closing a tag, quotes respected.
fn tag_end(tag: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (j, &c) in tag.iter().enumerate().skip(1) {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'>') => return Some(j + 1),
            _ => {}
        }
    }
    None
}

/// `name="value"` pairs of a start tag (name and `/` excluded).
fn attributes(tag: &[u8], out: &mut Vec<Vec<u8>>, max: usize) {
    let mut j = tag
        .iter()
        .position(|c| c.is_ascii_whitespace())
        .unwrap_or(tag.len());
    while j < tag.len() && out.len() < max {
        let Some(eq) = memchr(b'=', &tag[j..]).map(|k| j + k) else {
            return;
        };
        let mut k = eq + 1;
        while k < tag.len() && tag[k].is_ascii_whitespace() {
            k += 1;
        }
        let Some(&q) = tag.get(k) else { return };
        if q != b'"' && q != b'\'' {
            return;
        }
        let Some(close) = memchr(q, &tag[k + 1..]).map(|m| k + 1 + m) else {
            return;
        };
        let mut value = Vec::new();
        decode_into(&tag[k + 1..close], &mut value);
        out.push(value);
        j = close + 1;
    }
}

/// Appends `raw` with the predefined and numeric character references
/// replaced, as a parser reports text.
fn decode_into(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'&' {
            if let Some(semi) = raw[i..].iter().take(12).position(|&c| c == b';') {
                let name = &raw[i + 1..i + semi];
                let ch: Option<u32> = match name {
                    b"lt" => Some(u32::from(b'<')),
                    b"gt" => Some(u32::from(b'>')),
                    b"amp" => Some(u32::from(b'&')),
                    b"quot" => Some(u32::from(b'"')),
                    b"apos" => Some(u32::from(b'\'')),
                    [b'#', b'x' | b'X', hex @ ..] => std::str::from_utf8(hex)
                        .ok()
                        .and_then(|h| u32::from_str_radix(h, 16).ok()),
                    [b'#', dec @ ..] => std::str::from_utf8(dec).ok().and_then(|d| d.parse().ok()),
                    _ => None,
                };
                if let Some(c) = ch.and_then(char::from_u32) {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += semi + 1;
                    continue;
                }
            }
        }
        out.push(raw[i]);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes() {
        let x = parse(
            br#"<?xml version="1.0"?><!-- c --><r a="1 &amp; 2"><b c='x>y'>t&lt;1</b><![CDATA[<s>]]></r>"#,
            100,
        )
        .unwrap_or_default();
        assert_eq!(x.text, b"t<1<s>");
        assert_eq!(x.attributes, vec![b"1 & 2".to_vec(), b"x>y".to_vec()]);
        assert!(parse(b"just text", 10).is_err());
        assert!(parse(b"<a b='1", 10).is_err());
        assert!(parse(b"<a><!-- never closed", 10).is_err());
    }
}
