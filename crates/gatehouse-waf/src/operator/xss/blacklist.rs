//! What makes a token dangerous: tag names, attribute names, URL schemes,
//! style contents and comment-like constructs.

use super::decode::{Css, Entities};
use super::tokenizer::{is_space, starts_with_ignore_case};

/// Longest name compared against a list; longer names match nothing.
const NAME_MAX: usize = 24;

/// `name` lowercased with NULs dropped (old IE ignored them inside names),
/// cut to fit `buf`, and whether all of it fitted.
fn normalize_prefix<'b>(name: &[u8], buf: &'b mut [u8; NAME_MAX]) -> (&'b [u8], bool) {
    let mut n = 0;
    for &b in name.iter().filter(|&&b| b != 0) {
        match buf.get_mut(n) {
            Some(slot) => *slot = b.to_ascii_lowercase(),
            None => return (&buf[..], false),
        }
        n += 1;
    }
    (&buf[..n], true)
}

/// The whole of `name` normalized, or `None` when too long for any list.
fn normalize<'b>(name: &[u8], buf: &'b mut [u8; NAME_MAX]) -> Option<&'b [u8]> {
    match normalize_prefix(name, buf) {
        (n, true) => Some(n),
        (_, false) => None,
    }
}

/// Elements that run script or load active content by themselves, or that
/// switch the parser into SVG/MathML/XML rules where sanitizers and
/// filters lose track of what is markup:
/// - script, and its XML-event cousins `handler`/`listener`;
/// - frames and plugins: iframe, frame, frameset, object, embed, applet,
///   vmlframe (IE VML), portal;
/// - page-wide effects: base (rebases every relative script URL), link
///   (stylesheets, HTML imports), meta (refresh to `javascript:`,
///   `set-cookie`), style (IE expressions, CSS exfiltration), bgsound;
/// - foreign content: svg, math, xml (IE data islands), import (IE
///   `<import implementation>`), layer/ilayer (Netscape's src=);
/// - isindex: obsolete, carries `action`/`formaction` and event handlers
///   in legacy engines.
///
/// Plain `form` is left out: by itself it is HTML injection, not script;
/// its `action=javascript:` is caught as a URL attribute.
const TAGS: &[&[u8]] = &[
    b"script",
    b"handler",
    b"listener",
    b"iframe",
    b"frame",
    b"frameset",
    b"object",
    b"embed",
    b"applet",
    b"vmlframe",
    b"portal",
    b"base",
    b"link",
    b"meta",
    b"style",
    b"bgsound",
    b"svg",
    b"math",
    b"xml",
    b"import",
    b"layer",
    b"ilayer",
    b"isindex",
];

/// Namespace prefixes that make XML parsers build active content.
const PREFIXES: &[&[u8]] = &[b"xsl", b"xml", b"xmlns", b"svg"];

/// Whether a start tag with this name is dangerous. For `x:script` the
/// local part counts; for `scr<script` (a filter-evasion shape) the part
/// after the last `<` counts too.
pub fn dangerous_tag(raw: &[u8]) -> bool {
    let mut buf = [0u8; NAME_MAX];
    let mut check = |part: &[u8]| normalize(part, &mut buf).is_some_and(|n| TAGS.contains(&n));
    if check(raw) {
        return true;
    }
    if let Some(i) = raw.iter().rposition(|&b| b == b':') {
        if check(&raw[i + 1..]) || check(&raw[..i]) {
            return true;
        }
        let mut buf = [0u8; NAME_MAX];
        let prefix = raw[..i].rsplit(|&b| b == b':').next().unwrap_or(&[]);
        if normalize(prefix, &mut buf).is_some_and(|p| PREFIXES.contains(&p)) {
            return true;
        }
    }
    if let Some(i) = raw.iter().rposition(|&b| b == b'<') {
        return dangerous_tag(&raw[i + 1..]);
    }
    false
}

/// How an attribute's value is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    /// Not checked.
    Plain,
    /// Any value is script or active content: event handlers (`on*`),
    /// `xmlns` (makes XML build XHTML/SVG elements), `srcdoc` (a whole
    /// document), IE data binding (`datasrc`, `datafld`, `dataformatas`).
    Black,
    /// A URL that is fetched or navigated to.
    Url,
    /// `style`: IE expressions, bindings, script URLs.
    Style,
    /// SVG `attributeName`: the value names another attribute.
    Indirect,
}

/// URL-valued attributes, fetched or followed by some engine (SVG
/// animation's `to`/`from`/`values`/`by` can set an `href`; `folder` is
/// IE's, `lowsrc`/`dynsrc` are Netscape/IE media).
const URL_ATTRS: &[&[u8]] = &[
    b"href",
    b"src",
    b"action",
    b"formaction",
    b"data",
    b"background",
    b"lowsrc",
    b"dynsrc",
    b"poster",
    b"codebase",
    b"classid",
    b"archive",
    b"code",
    b"icon",
    b"folder",
    b"to",
    b"from",
    b"values",
    b"by",
    b"content",
];

const BLACK_ATTRS: &[&[u8]] = &[b"xmlns", b"srcdoc", b"datasrc", b"datafld", b"dataformatas"];

/// Classifies an attribute name. Event handlers are `on` plus at least
/// three letters (the shortest real ones are `oncut` and `onend`); any such
/// name counts, as new events keep appearing (`onbeforetoggle`,
/// `oncontentvisibilityautostatechange`).
pub fn attr(raw: &[u8]) -> Attr {
    let mut buf = [0u8; NAME_MAX];
    let (name, whole) = normalize_prefix(raw, &mut buf);
    if is_event(name) {
        return Attr::Black;
    }
    if !whole {
        return Attr::Plain;
    }
    if BLACK_ATTRS.contains(&name) || name.starts_with(b"xmlns:") {
        return Attr::Black;
    }
    if name == b"style" {
        return Attr::Style;
    }
    if name == b"attributename" {
        return Attr::Indirect;
    }
    if URL_ATTRS.contains(&name) || name.ends_with(b":href") {
        return Attr::Url;
    }
    Attr::Plain
}

/// `on` and three letters or more, then nothing or punctuation that old
/// Gecko and IE skipped (`onload!#$%=...`); `online-status` and `one2`
/// are ordinary names.
fn is_event(name: &[u8]) -> bool {
    let Some(rest) = name.strip_prefix(b"on") else {
        return false;
    };
    let letters = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
    letters >= 3
        && rest
            .get(letters)
            .is_none_or(|&b| !b.is_ascii_alphanumeric() && !matches!(b, b'-' | b'_' | b':' | b'.'))
}

/// Whether a value given to an attribute of kind `kind` is dangerous.
pub fn dangerous_value(kind: Attr, value: &[u8]) -> bool {
    match kind {
        Attr::Plain => false,
        // Nothing but `=` is base64 padding (`...+onAbc==` once `+` became
        // a space), not code.
        Attr::Black => value.iter().any(|&b| b != b'='),
        Attr::Url => script_url(value, false) || after_url_prefix(value),
        Attr::Style => dangerous_style(value),
        Attr::Indirect => matches!(attr(value), Attr::Black | Attr::Url | Attr::Style),
    }
}

/// `content="0;url=javascript:..."` (meta refresh) and SVG `values="a;
/// javascript:..."` list URLs after a `;`: check each entry.
fn after_url_prefix(value: &[u8]) -> bool {
    value.split(|&b| b == b';').skip(1).any(|part| {
        let part = trim_start(part);
        let part = match part.iter().position(|&b| b == b'=') {
            Some(i) if starts_with_ignore_case(part, b"url") => &part[i + 1..],
            _ => part,
        };
        script_url(part, false)
    })
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b <= b' ').count();
    &s[n..]
}

/// Schemes that run script when navigated to or loaded.
const SCRIPT_SCHEMES: &[&[u8]] = &[b"javascript", b"vbscript", b"livescript", b"mocha"];

/// Whether `value`, read as a browser reads a URL (references decoded,
/// leading controls and spaces dropped, tabs and newlines ignored inside
/// the scheme), has a scripting scheme.
///
/// In an attribute (`bare == false`) `data:` counts unless it is a raster
/// image (`data:image/png` is everyday markup; `data:image/svg+xml` is a
/// document that can carry script). A whole input (`bare == true`) is
/// held to more: the scheme must be followed by something code-like, and
/// `data:` only counts for document and script types, so that the title
/// "JavaScript: The Good Parts" or an uploaded `data:image/...` pass.
pub fn script_url(value: &[u8], bare: bool) -> bool {
    let mut chars = Entities::new(value)
        .skip_while(|&b| b <= b' ')
        .filter(|&b| !matches!(b, b'\t' | b'\n' | b'\r' | 0));
    let mut scheme = [0u8; 12];
    let mut n = 0;
    loop {
        match chars.next() {
            Some(b':') => break,
            Some(b) if b.is_ascii_alphabetic() && n < scheme.len() => {
                scheme[n] = b.to_ascii_lowercase();
                n += 1;
            }
            _ => return false,
        }
    }
    let scheme = &scheme[..n];
    if SCRIPT_SCHEMES.contains(&scheme) {
        return !bare
            || chars.any(|b| matches!(b, b'(' | b'`' | b'=' | b'[' | b'/' | b'\\' | b'{'));
    }
    if scheme != b"data" {
        return false;
    }
    let mut mime = [0u8; 24];
    let mut m = 0;
    for b in chars.skip_while(|&b| b == b' ') {
        if b == b',' || b == b';' || m == mime.len() {
            break;
        }
        mime[m] = b.to_ascii_lowercase();
        m += 1;
    }
    let mime = &mime[..m];
    if bare {
        const ACTIVE: &[&[u8]] = &[
            b"text/html",
            b"application/xhtml",
            b"image/svg",
            b"text/xml",
            b"application/xml",
            b"text/javascript",
            b"application/javascript",
            b"application/x-javascript",
            b"text/ecmascript",
            b"text/vbscript",
        ];
        ACTIVE.iter().any(|a| mime.starts_with(a))
    } else {
        !mime.starts_with(b"image/") || mime.starts_with(b"image/svg")
    }
}

/// CSS that runs script: IE `expression()` and `behavior`, Mozilla XBL
/// bindings, `@import`, and script URLs anywhere (`url(javascript:...)`,
/// Opera's `-o-link`).
const STYLE_PATTERNS: &[&[u8]] = &[
    b"expression(",
    b"javascript:",
    b"vbscript:",
    b"livescript:",
    b"behavior:",
    b"-moz-binding",
    b"@import",
];

/// Whether a style value holds one of `STYLE_PATTERNS` once decoded and
/// stripped of comments, spaces and quotes.
pub fn dangerous_style(value: &[u8]) -> bool {
    let mut window = [0u8; 16];
    let mut filled = 0usize;
    for c in Css::new(value) {
        window.copy_within(1.., 0);
        window[15] = c;
        filled = (filled + 1).min(16);
        let seen = &window[16 - filled..];
        if STYLE_PATTERNS.iter().any(|p| seen.ends_with(p)) {
            return true;
        }
    }
    false
}

/// Starts of comments and processing instructions that hide or import
/// code: IE conditional comments (`<!--[if IE]>`, `<![endif]>`), DTD
/// declarations (`<!ENTITY`, `<!ELEMENT`, `<!ATTLIST`) and IE's
/// `<?import>`, `<?xml-stylesheet>`, `<?xml:namespace>`.
const COMMENT_STARTS: &[&[u8]] = &[
    b"[if",
    b"[endif",
    b"entity",
    b"element",
    b"attlist",
    b"import",
    b"xml-stylesheet",
    b"xml:namespace",
];

/// Whether the body of a comment or bogus comment is one of the above.
/// With `real` (a `<!--` comment) a backtick also counts: old IE ended
/// comments at it and read what followed as markup.
pub fn dangerous_comment(body: &[u8], real: bool) -> bool {
    let n = body
        .iter()
        .take_while(|&&b| is_space(b) || b == b'?' || b == 0)
        .count();
    let body_start = &body[n..];
    COMMENT_STARTS
        .iter()
        .any(|p| starts_with_ignore_case(body_start, p))
        || (real && body.contains(&b'`'))
}

/// A doctype with an internal subset (`[`), entities or an external
/// `SYSTEM` identifier defines or loads markup; `<!DOCTYPE html>` and
/// public identifiers are ordinary.
pub fn dangerous_doctype(body: &[u8]) -> bool {
    body.contains(&b'[')
        || body
            .windows(6)
            .any(|w| w.eq_ignore_ascii_case(b"entity") || w.eq_ignore_ascii_case(b"system"))
}

/// CDATA holding markup: in HTML content `<![CDATA[` is a bogus comment
/// that ends at the first `>`, so `<![CDATA[><img onerror=...>]]>` is live
/// markup there while looking like inert text to an XML reader.
pub fn dangerous_cdata(body: &[u8]) -> bool {
    body.contains(&b'<') || body.contains(&b'>')
}
