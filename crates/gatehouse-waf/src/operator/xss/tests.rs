//! Unit tests: tokenizer states, each list, each starting context, and
//! robustness (non-UTF-8, large input, pseudo-random bytes).

use super::blacklist::{self, Attr};
use super::decode::{entity, Css, Entities};
use super::tokenizer::{Start, Token, Tokenizer};
use super::*;

fn tokens(input: &[u8], start: Start) -> Vec<Token<'_>> {
    let mut t = Tokenizer::new(input, start, false);
    std::iter::from_fn(|| t.next_token()).collect()
}

#[test]
fn tokenizer_tags_and_attributes() {
    use Token::*;
    assert_eq!(
        tokens(b"x<a href='u' b=\"v\" c=w d e = f `g`>t</a>", Start::Data),
        vec![
            TagOpen(b"a"),
            AttrName(b"href"),
            AttrValue(b"u"),
            AttrName(b"b"),
            AttrValue(b"v"),
            AttrName(b"c"),
            AttrValue(b"w"),
            AttrName(b"d"),
            AttrName(b"e"),
            AttrValue(b"f"),
            AttrName(b"`g`"),
            TagEnd,
            TagClose(b"a"),
            TagEnd,
        ]
    );
    // `/` between attributes, self-closing, `=` starting a name.
    assert_eq!(
        tokens(b"<svg/onload=x/><p =a>", Start::Data),
        vec![
            TagOpen(b"svg"),
            AttrName(b"onload"),
            AttrValue(b"x/"),
            TagEnd,
            TagOpen(b"p"),
            AttrName(b"=a"),
            TagEnd,
        ]
    );
    // Backtick-quoted values (IE), empty value before `>`, end-tag
    // attributes hidden.
    assert_eq!(
        tokens(b"<i a=`x y`><b c=></b d=e>", Start::Data),
        vec![
            TagOpen(b"i"),
            AttrName(b"a"),
            AttrValue(b"x y"),
            TagEnd,
            TagOpen(b"b"),
            AttrName(b"c"),
            AttrValue(b""),
            TagEnd,
            TagClose(b"b"),
            TagEnd,
        ]
    );
}

#[test]
fn tokenizer_text_that_is_not_a_tag() {
    assert!(tokens(b"a < b, 1<2, <3, x > 3, </>", Start::Data).is_empty());
    assert_eq!(
        tokens(b"<<b>", Start::Data),
        vec![Token::TagOpen(b"b"), Token::TagEnd]
    );
    // Unterminated pieces still report what they have.
    assert_eq!(
        tokens(b"<img src=x onerror=y", Start::Data),
        vec![
            Token::TagOpen(b"img"),
            Token::AttrName(b"src"),
            Token::AttrValue(b"x"),
            Token::AttrName(b"onerror"),
            Token::AttrValue(b"y"),
        ]
    );
    assert_eq!(
        tokens(b"<a b=", Start::Data),
        vec![
            Token::TagOpen(b"a"),
            Token::AttrName(b"b"),
            Token::AttrValue(b"")
        ]
    );
}

#[test]
fn tokenizer_comments_and_declarations() {
    use Token::*;
    assert_eq!(
        tokens(b"<!-- a -- b -->", Start::Data),
        vec![Comment(b" a -- b ")]
    );
    assert_eq!(tokens(b"<!-- a --!>", Start::Data), vec![Comment(b" a ")]);
    assert_eq!(
        tokens(b"<!--><b>", Start::Data),
        vec![Comment(b""), TagOpen(b"b"), TagEnd]
    );
    assert_eq!(tokens(b"<!--->", Start::Data), vec![Comment(b"")]);
    assert_eq!(tokens(b"<!-- open", Start::Data), vec![Comment(b" open")]);
    assert_eq!(
        tokens(b"<!DOCTYPE html>", Start::Data),
        vec![Doctype(b" html")]
    );
    assert_eq!(tokens(b"<![CDATA[x>y]]>", Start::Data), vec![CData(b"x>y")]);
    assert_eq!(tokens(b"<!x y>", Start::Data), vec![Bogus(b"x y")]);
    assert_eq!(tokens(b"<?php x ?>", Start::Data), vec![Bogus(b"?php x ?")]);
    assert_eq!(tokens(b"</ x>", Start::Data), vec![Bogus(b" x")]);
}

#[test]
fn tokenizer_raw_text() {
    let input = b"<title><b x=\"</title><i>\">";
    let mut raw = Tokenizer::new(input, Start::Data, true);
    let got: Vec<_> = std::iter::from_fn(|| raw.next_token()).collect();
    assert!(got.contains(&Token::TagOpen(b"i")));
    assert!(!got.contains(&Token::TagOpen(b"b")));
    assert!(raw.saw_raw_text);
    let markup = tokens(input, Start::Data);
    assert!(markup.contains(&Token::TagOpen(b"b")));
    assert!(!markup.contains(&Token::TagOpen(b"i")));
    // `plaintext` never ends; a raw element without its end tag neither.
    let mut t = Tokenizer::new(b"<plaintext><script>", Start::Data, true);
    assert_eq!(t.next_token(), Some(Token::TagOpen(b"plaintext")));
    assert_eq!(t.next_token(), Some(Token::TagEnd));
    assert_eq!(t.next_token(), None);
}

#[test]
fn tokenizer_starting_contexts() {
    use Token::*;
    assert_eq!(
        tokens(b"v a=b", Start::Unquoted),
        vec![AttrValue(b"v"), AttrName(b"a"), AttrValue(b"b")]
    );
    assert_eq!(
        tokens(b"v' a='b", Start::Quoted(b'\'')),
        vec![AttrValue(b"v"), AttrName(b"a"), AttrValue(b"b")]
    );
    assert_eq!(
        tokens(b"v\"><b>", Start::Quoted(b'"')),
        vec![AttrValue(b"v"), TagEnd, TagOpen(b"b"), TagEnd]
    );
    assert_eq!(
        tokens(b"v` a", Start::Quoted(b'`')),
        vec![AttrValue(b"v"), AttrName(b"a")]
    );
    assert_eq!(
        tokens(b"no quote", Start::Quoted(b'"')),
        vec![AttrValue(b"no quote")]
    );
}

#[test]
fn tag_list() {
    for t in [
        "script",
        "SCRIPT",
        "ScRiPt",
        "scr\0ipt",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "base",
        "link",
        "meta",
        "style",
        "svg",
        "math",
        "xml",
        "isindex",
        "x:script",
        "html:script",
        "scr<script",
        "xsl:template",
        "svg:g",
        "bgsound",
    ] {
        assert!(blacklist::dangerous_tag(t.as_bytes()), "{t}");
    }
    for t in [
        "b",
        "p",
        "a",
        "img",
        "div",
        "form",
        "input",
        "scriptx",
        "https:",
        "john@example.com",
        "title",
    ] {
        assert!(!blacklist::dangerous_tag(t.as_bytes()), "{t}");
    }
    assert!(!blacklist::dangerous_tag(&[b'x'; 1000]));
}

#[test]
fn attribute_list() {
    for a in [
        "onload",
        "ONERROR",
        "onbeforehellfreezes",
        "on\0click",
        "oncut",
    ] {
        assert_eq!(blacklist::attr(a.as_bytes()), Attr::Black, "{a}");
    }
    let long = format!("on{}", "x".repeat(100));
    assert_eq!(blacklist::attr(long.as_bytes()), Attr::Black);
    for a in ["xmlns", "xmlns:x", "srcdoc", "datasrc"] {
        assert_eq!(blacklist::attr(a.as_bytes()), Attr::Black, "{a}");
    }
    for a in [
        "href",
        "SRC",
        "action",
        "formaction",
        "xlink:href",
        "background",
        "poster",
        "to",
    ] {
        assert_eq!(blacklist::attr(a.as_bytes()), Attr::Url, "{a}");
    }
    assert_eq!(blacklist::attr(b"Style"), Attr::Style);
    assert_eq!(blacklist::attr(b"attributeName"), Attr::Indirect);
    for a in [
        "on", "one", "once", "on-line", "online2", "class", "title", "alt", "=x",
    ] {
        assert_eq!(blacklist::attr(a.as_bytes()), Attr::Plain, "{a}");
    }
}

#[test]
fn url_schemes() {
    for v in [
        "javascript:alert(1)",
        "  JavaScript:x",
        "\x01\x02javascript:x",
        "java\tscr\nipt:x",
        "&#x6A;avascript:x",
        "&#106avascript:x",
        "javascript&colon;x",
        "&Tab;javascript:x",
        "vbscript:x",
        "livescript:x",
        "data:text/html,<b>",
        "data:,x",
        "data:image/svg+xml,<svg>",
    ] {
        assert!(blacklist::script_url(v.as_bytes(), false), "{v}");
    }
    for v in [
        "https://example.com",
        "/a:b",
        "#x",
        "mailto:a@b",
        "data:image/png;base64,AAAA",
        "javascriptx:1",
        "java script:1",
        "&#x6A;ava",
        "",
    ] {
        assert!(!blacklist::script_url(v.as_bytes(), false), "{v}");
    }
    // Whole inputs need code after the scheme, and a document data type.
    assert!(blacklist::script_url(b"javascript:alert(1)", true));
    assert!(!blacklist::script_url(b"JavaScript: The Good Parts", true));
    assert!(blacklist::script_url(
        b"data:text/html;base64,PHN2Zz4=",
        true
    ));
    assert!(!blacklist::script_url(b"data:image/png;base64,AAAA", true));
    assert!(!blacklist::script_url(b"data:text/plain,x", true));
}

#[test]
fn style_patterns() {
    for v in [
        "width:expression(alert(1))",
        "x:EXPRESSION (1)",
        "x:exp/**/ression(1)",
        "x:\\65 xpression(1)",
        "x:\\000065xpression(1)",
        "background:url( 'javascript:alert(1)')",
        "background:url(&quot;java&#x09;script:x&quot;)",
        "behavior:url(x.htc)",
        "-moz-binding:url(x)",
        "@import 'x'",
    ] {
        assert!(blacklist::dangerous_style(v.as_bytes()), "{v}");
    }
    for v in [
        "color:red",
        "background:url(/a.png)",
        "font:12px/1.5 serif",
        "",
        "/*",
        "\\",
    ] {
        assert!(!blacklist::dangerous_style(v.as_bytes()), "{v}");
    }
}

#[test]
fn comment_doctype_cdata_lists() {
    for c in [
        "[if IE]>x<![endif]",
        " [IF gte IE 9]",
        "[endif]--",
        "ENTITY x 'y'",
        "?import x",
        "?xml-stylesheet href=x?",
    ] {
        assert!(blacklist::dangerous_comment(c.as_bytes(), false), "{c}");
    }
    assert!(blacklist::dangerous_comment(b" a ` b ", true));
    assert!(!blacklist::dangerous_comment(b" a ` b ", false));
    for c in [" plain ", "?xml version=\"1.0\"?", "?php echo 1 ?", ""] {
        assert!(!blacklist::dangerous_comment(c.as_bytes(), true), "{c}");
    }
    assert!(blacklist::dangerous_doctype(b" x [<!ENTITY a 'b'>]"));
    assert!(blacklist::dangerous_doctype(
        b" x SYSTEM \"http://e/x.dtd\""
    ));
    assert!(!blacklist::dangerous_doctype(b" html"));
    assert!(!blacklist::dangerous_doctype(
        b" html PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\""
    ));
    assert!(blacklist::dangerous_cdata(b"><img>"));
    assert!(!blacklist::dangerous_cdata(b"plain text"));
}

#[test]
fn decoders() {
    assert_eq!(entity(b"&#x41;"), Some((b'A', 6)));
    assert_eq!(entity(b"&#65"), Some((b'A', 4)));
    assert_eq!(entity(b"&colon;x"), Some((b':', 7)));
    assert_eq!(entity(b"&NewLine"), Some((b'\n', 8)));
    assert_eq!(
        entity(b"&#99999999999999999999;"),
        Some((decode::NON_ASCII, 23))
    );
    assert_eq!(entity(b"&#;"), None);
    assert_eq!(entity(b"&unknown;"), None);
    assert_eq!(entity(b"&"), None);
    let e: Vec<u8> = Entities::new(b"a&lt;b&x;&#0;").collect();
    assert_eq!(e, b"a<b&x;\x80");
    let c: Vec<u8> = Css::new(b"A /* c */ \\42 \\\"c'").collect();
    assert_eq!(c, b"abc");
}

#[test]
fn contexts_each_find_their_attack() {
    // Data.
    assert!(detect(b"hi <script>x</script>"));
    // Unquoted value: needs whitespace or `>` to leave the value.
    assert!(detect(b"x onmouseover=alert(1)"));
    assert!(detect(b"x><img src=x onerror=y>"));
    // Single, double and back-quoted values.
    assert!(detect(b"x' onfocus='y"));
    assert!(detect(b"x\" onfocus=\"y"));
    assert!(detect(b"x` onfocus=`y"));
    // The same attribute inside the value it would have closed is inert.
    assert!(!detect(b"x onmouseover"));
    assert!(!detect(b"onfocus=y"));
    // Empty handlers: only in a tag of the input's own.
    assert!(detect(b"<x onend="));
    assert!(!detect(b"abc onAbc="));
    assert!(!detect(b"abc onAbc=="));
    assert!(!detect(b"x\" onzoom="));
}

#[test]
fn plain_values_take_the_fast_path() {
    for v in [
        "hello world",
        "a-b_c.d",
        "l'onde",
        "\"quoted\"",
        "x > y",
        "",
    ] {
        assert!(!detect(v.as_bytes()), "{v}");
    }
}

#[test]
fn non_utf8_input() {
    assert!(detect(b"\xff\xfe<script>\xc3\x28</script>"));
    assert!(detect(b"<img src=\xff onerror=\xfe>"));
    assert!(!detect(b"\xff\xfe\xfd<\xc3\x28 = \x80\x81"));
    assert!(!detect(&[0x80; 64]));
}

#[test]
fn large_input_is_quick() {
    let shapes: [&[u8]; 6] = [
        b"<a b=\"c\" d='e' f=g>",
        b"<!-- - -- --",
        b"<title></titl",
        b" x=\"'` ",
        b"<style=&#x6a;&#",
        b"\\65/*",
    ];
    for shape in shapes {
        let input: Vec<u8> = shape.iter().copied().cycle().take(100_000).collect();
        // Linear work; speed is the benchmarks' business.
        let _ = detect(&input);
    }
    let mut benign = b"<p class=\"x\">".repeat(8_000);
    benign.extend_from_slice(b"<script>");
    assert!(detect(&benign));
}

#[test]
fn pseudo_random_input_never_panics() {
    // A fixed LCG; inputs mix raw bytes with pieces of markup so that the
    // deeper states are reached.
    const PIECES: &[&[u8]] = &[
        b"<",
        b">",
        b"/",
        b"</",
        b"=",
        b" ",
        b"\t",
        b"\0",
        b"\"",
        b"'",
        b"`",
        b"&",
        b"&#x6A;",
        b"&#",
        b"\\",
        b"\\65",
        b"/*",
        b"*/",
        b"script",
        b"img",
        b"svg",
        b"title",
        b"onload",
        b"src",
        b"href",
        b"style",
        b"javascript:",
        b"data:",
        b"expression(",
        b"<!--",
        b"-->",
        b"--!>",
        b"<!",
        b"<?",
        b"[if",
        b"<![CDATA[",
        b"]]>",
        b"doctype",
        b"entity",
        b"x:",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let mut flagged = 0;
    for _ in 0..20_000 {
        let mut input = Vec::new();
        for _ in 0..next() % 24 {
            let r = next();
            if r % 4 == 0 {
                input.push((r >> 8) as u8);
            } else {
                input.extend_from_slice(PIECES[(r >> 2) % PIECES.len()]);
            }
        }
        if detect(&input) {
            flagged += 1;
        }
        for start in [Start::Data, Start::Unquoted, Start::Quoted(b'"')] {
            for raw in [false, true] {
                let mut t = Tokenizer::new(&input, start, raw);
                let mut n = 0;
                while t.next_token().is_some() {
                    n += 1;
                    assert!(n <= input.len() + 1, "no progress on {input:?}");
                }
            }
        }
    }
    // Both verdicts occur: the loop exercised more than the fast path.
    assert!(flagged > 1_000 && flagged < 19_000, "{flagged}");
}
