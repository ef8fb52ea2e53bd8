//! `@detectXSS`: a benign corpus that must pass, an attack corpus that must
//! be caught, and the OWASP CRS regression tests of rules 941100/941101
//! (read from `../shared` when present, never copied here).
#![allow(clippy::unwrap_used)]

use gatehouse_waf::operator::Operator;
use gatehouse_waf::transform::{apply_chain, Transform};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

/// The transformations of rules 941100 and 941101.
const CHAIN: [Transform; 6] = [
    Transform::Utf8ToUnicode,
    Transform::UrlDecodeUni,
    Transform::HtmlEntityDecode,
    Transform::JsDecode,
    Transform::CssDecode,
    Transform::RemoveNulls,
];

fn detector() -> Operator {
    Operator::compile("detectXSS", "", Path::new(".")).unwrap()
}

/// What the CRS rules do: transform, then detect.
fn flags(op: &Operator, value: &[u8]) -> bool {
    op.matches(&apply_chain(&CHAIN, value), None)
}

/// Realistic values of arguments, cookies and headers that must pass.
const BENIGN: &[&str] = &[
    "hello",
    "Hello, world!",
    "john.doe@example.com",
    "John Doe <john.doe@example.com>",
    "\"Jane Smith\" <jane@example.org>",
    "<john@example.com>",
    "a < b",
    "x > 3",
    "1<2",
    "<3",
    "I <3 you",
    "a<b && c>d",
    "if (a < b && b > c) return;",
    "5 > 4 and 3 < 7",
    "price <= 100 && qty >= 2",
    "x=1",
    "a = b",
    "foo=bar&baz=qux",
    "?a=b&c=d",
    "https://example.com/search?q=shoes&page=2&sort=price_asc",
    "http://localhost:8080/api/v1/users?id=42",
    "/path/to/file.txt",
    "C:\\Users\\alice\\Documents\\report.docx",
    "report_2024-01-15.pdf",
    "my file (1).jpg",
    "IMG_20230412_153012.png",
    "photo.final.v2.jpeg",
    "<b>bold</b>",
    "<p>hi</p>",
    "<i>",
    "<br>",
    "<br/>",
    "<hr />",
    "<a href=\"https://example.com\">link</a>",
    "<a href='https://example.com/page?x=1&y=2'>page</a>",
    "<a href=\"/relative/path\">rel</a>",
    "<a href=\"#top\">top</a>",
    "<a href=\"mailto:someone@example.com\">mail</a>",
    "<a href=\"tel:+33123456789\">call</a>",
    "<img src=\"cat.png\" alt=\"a cat\">",
    "<img src=\"https://cdn.example.com/i/1.jpg\" width=\"100\" height=\"50\">",
    "<img src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\">",
    "<p style=\"color:red\">red</p>",
    "<span style=\"font-weight: bold; background: url(/img/bg.png)\">x</span>",
    "<div class=\"note\" id=\"n1\">note</div>",
    "<ul><li>one</li><li>two</li></ul>",
    "<table><tr><td>1</td></tr></table>",
    "<blockquote>quote</blockquote>",
    "<code>x = y < z</code>",
    "<pre>if a > b: print(a)</pre>",
    "<em>emphasis</em> and <strong>strong</strong>",
    "<h1>Title</h1>",
    "<details><summary>More</summary>Hidden text</details>",
    "<kbd>Ctrl</kbd>+<kbd>C</kbd>",
    "<input type=\"text\" name=\"q\" value=\"search\">",
    "<label for=\"email\">Email</label>",
    "<!-- a plain comment -->",
    "<title>My page</title>",
    "<textarea>some text</textarea>",
    "**bold** and _italic_ in markdown",
    "# Heading",
    "> quoted line in markdown",
    "[link](https://example.com)",
    "![alt text](https://example.com/image.png)",
    "`code` in backticks",
    "```js\nconsole.log(1)\n```",
    "- item one\n- item two",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "{\"name\":\"John\",\"age\":30,\"city\":\"New York\"}",
    "{\"query\":\"a=b\",\"filter\":{\"on\":\"yes\"}}",
    "{\"html\":\"<b>x</b>\",\"ok\":true}",
    "[1,2,3]",
    "{\"onboarding\":true,\"online\":false}",
    "<xml-data>no</xml-data>",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.4.0",
    "python-requests/2.31.0",
    "OWASP CRS test agent",
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "application/json, text/plain, */*",
    "en-US,en;q=0.9,fr;q=0.8",
    "gzip, deflate, br",
    "max-age=0",
    "no-cache",
    "session=abc123; theme=dark; lang=fr",
    "JSESSIONID=8F3A2B; Path=/; HttpOnly",
    "sid=s%3Aabc.def; Expires=Wed, 21 Oct 2025 07:28:00 GMT",
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.abc",
    "text/html; charset=\"utf-8\"",
    "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
    "attachment; filename=\"report.pdf\"",
    "form-data; name=\"file\"; filename=\"a b.png\"",
    "L'été est chaud, n'est-ce pas ?",
    "C'est l'heure d'aller à l'école.",
    "Aujourd'hui, j'ai mangé une pomme.",
    "Il a dit : « Bonjour » et l'on a ri.",
    "L'onglet « Paramètres » est à droite.",
    "Qu'est-ce que c'est ?",
    "J'aime l'opéra, l'once d'or et l'ondée.",
    "Er sagte: \"Das ist gut\" und ging.",
    "„Anführungszeichen“ sind schön.",
    "Das ist Peters Auto, nicht Annas.",
    "Grüße aus München!",
    "Straße = Strasse",
    "It's a nice day, isn't it?",
    "She said \"hello\" and 'goodbye'.",
    "Don't do that, it's \"dangerous\" they say.",
    "Tom's \"favorite\" book is 'Dune'.",
    "The on switch is on the left",
    "Click on the button to continue",
    "Please turn on online mode",
    "The onset of winter",
    "one=1 two=2 three=3",
    "width=100 height=200",
    "name = value",
    "key = \"value with spaces\"",
    "title='A \"quoted\" title'",
    "a \"b\" c = 'd'",
    "SELECT * FROM users WHERE id = 1",
    "x == y",
    "a != b",
    "i => i * 2",
    "const f = (a, b) => a + b;",
    "<Enter>",
    "Press <Ctrl>+<Alt>+<Del>",
    "List<String> names = new ArrayList<>();",
    "Map<String, Integer> counts;",
    "std::vector<int> v;",
    "template <typename T> class Foo {};",
    "<T extends Comparable<T>>",
    "<foo>",
    "<div>",
    "</div>",
    "<p>Paragraph with <a href=\"https://example.org/a?b=c&d=e\">a link</a>.</p>",
    "<a href=\"https://example.com\" target=\"_blank\" rel=\"noopener\">ext</a>",
    "<abbr title=\"HyperText Markup Language\">HTML</abbr>",
    "<time datetime=\"2024-01-01\">New year</time>",
    "<font color=\"red\">old</font>",
    "<center>centered</center>",
    "<sup>2</sup> and <sub>n</sub>",
    "<mark>highlighted</mark>",
    "<q cite=\"https://example.com/quote\">quote</q>",
    "<video controls src=\"movie.mp4\"></video>",
    "<audio src=\"song.mp3\" controls></audio>",
    "<source src=\"movie.webm\" type=\"video/webm\">",
    "<button type=\"submit\">Send</button>",
    "<select name=\"s\"><option value=\"1\">One</option></select>",
    "<form action=\"/search\" method=\"get\"><input name=\"q\"></form>",
    "<!DOCTYPE html>",
    "<!doctype html><html><head></head><body>hi</body></html>",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    "1 + 1 = 2",
    "3 * 4 = 12",
    "e = mc^2",
    "y = mx + b",
    "f(x) = x^2 + 2x + 1",
    "50% off!",
    "#hashtag @mention",
    ":-) ;-) :P <:-)",
    "-->",
    "=>",
    "<=",
    "<>",
    "<<>>",
    "<<<EOF",
    "a > b > c",
    "<-- back",
    "--> forward",
    "1 < 2 > 0",
    "$100 < $200",
    "user<at>example<dot>com",
    "javascript",
    "JavaScript: The Good Parts",
    "JavaScript tutorial for beginners",
    "vbscript tutorial",
    "data science",
    "onload",
    "onerror handling in JavaScript",
    "the onclick event",
    "expression(1)",
    "style guide",
    "<3 <3 <3",
    "O'Reilly",
    "D'Angelo",
    "\"quoted\"",
    "'single'",
    "`backtick`",
    "=",
    "==",
    "===",
    "a=",
    "=a",
    "x=\"",
    "x='",
    "x=`1`",
    "<a>",
    "</a>",
    "</p><p>",
    "<p class=note>unquoted</p>",
    "<img src=cat.png alt=cat>",
    "<a href=https://example.com>x</a>",
    "<p title='it\"s'>x</p>",
    "<span data-id=\"42\" data-name=\"x\">y</span>",
    "<div aria-label=\"Close\" role=\"button\">x</div>",
    "<meter value=\"0.6\">60%</meter>",
    "<progress value=\"70\" max=\"100\"></progress>",
    "<ol start=\"3\"><li>three</li></ol>",
    "<p lang=\"fr\">L'été</p>",
    "dGhpcyBpcyBh+onlyTEST==",
    "c2Vzc2lvbg+onAbc=",
];

/// Payloads written for this test; `MISSED` lists the ones we let through.
const ATTACKS: &[&str] = &[
    "<script>alert(1)</script>",
    "<SCRIPT>alert(1)</SCRIPT>",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<script src=//evil.example/x.js></script>",
    "<script/src=//evil.example/x.js>",
    "<script\n>alert(1)</script>",
    "<script>alert(document.cookie)</script>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<<script>alert(1);//<</script>",
    "\"><script>alert(1)</script>",
    "'><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x ONERROR=alert(1)>",
    "<img src=x onerror=\"alert(1)\">",
    "<img/src/onerror=alert(1)>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<img src=\"x\" onerror='alert(1)'>",
    "<img src=`x` onerror=`alert(1)`>",
    "<img\nsrc=x\nonerror=alert(1)>",
    "<img src=x onerror\t=alert(1)>",
    "<img src=x one rror=alert(1) onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text x=\"20\" y=\"20\">X</text></a></svg>",
    "<math><maction actiontype=\"statusline\" xlink:href=\"javascript:alert(1)\">CLICK</maction></math>",
    "<body onload=alert(1)>",
    "<body onpageshow=alert(1)>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<iframe src=https://evil.example></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\">",
    "<frameset onload=alert(1)>",
    "<frame src=\"javascript:alert(1)\">",
    "<object data=\"javascript:alert(1)\">",
    "<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">",
    "<embed src=\"javascript:alert(1)\">",
    "<embed src=//evil.example/x.swf>",
    "<applet code=\"Evil.class\"></applet>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "<a href=javascript:alert(1)>click</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\" &#x09;javascript:alert(1)\">x</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"&#x6A;avascript:alert(1)\">x</a>",
    "<a href=\"java&#x09;script:alert(1)\">x</a>",
    "<a href=\"java\tscript:alert(1)\">x</a>",
    "<a href=\"javascript&colon;alert(1)\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
    "<a href=\"livescript:alert(1)\">x</a>",
    "<a href=\"  javascript:alert(1)\">x</a>",
    "<form action=\"javascript:alert(1)\"><input type=submit>",
    "<form><button formaction=javascript:alert(1)>X</button></form>",
    "<input type=\"image\" src=\"javascript:alert(1)\">",
    "<input autofocus onfocus=alert(1)>",
    "<select autofocus onfocus=alert(1)>",
    "<textarea autofocus onfocus=alert(1)>",
    "<keygen autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<video><source onerror=\"alert(1)\"></video>",
    "<audio src=x onerror=alert(1)>",
    "<video poster=javascript:alert(1)//></video>",
    "<table background=\"javascript:alert(1)\">",
    "<td background=\"javascript:alert(1)\">",
    "<div style=\"width:expression(alert(1))\">",
    "<div style=\"background:url(javascript:alert(1))\">",
    "<div style=\"background:url('javascript:alert(1)')\">",
    "<div style=\"x:exp/**/ression(alert(1))\">",
    "<div style=\"x:\\65xpression(alert(1))\">",
    "<div style=\"behavior: url(evil.htc)\">",
    "<div style=\"-moz-binding:url(//evil.example/xss.xml#xss)\">",
    "<style>@import 'javascript:alert(1)';</style>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<link rel=import href=//evil.example/x.html>",
    "<link rel=\"stylesheet\" href=\"javascript:alert(1)\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<meta http-equiv=refresh content=\"0; url=data:text/html,<script>alert(1)</script>\">",
    "<base href=\"//evil.example/\">",
    "<isindex action=javascript:alert(1) type=image>",
    "<!--[if IE]><script>alert(1)</script><![endif]-->",
    "<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
    "<![endif]--><script>alert(1)</script>",
    "<!--<img src=\"--><img src=x onerror=alert(1)//\">",
    "<!--><img src=x onerror=alert(1)>-->",
    "<!DOCTYPE x [<!ENTITY xss \"<script>alert(1)</script>\">]>",
    "<!ENTITY xxe SYSTEM \"file:///etc/passwd\">",
    "<?import namespace=\"t\" implementation=\"#default#time2\">",
    "<?xml-stylesheet type=\"text/xsl\" href=\"data:,evil\"?>",
    "<![CDATA[><img src=x onerror=alert(1)>]]>",
    "<xml id=x><x><c><![CDATA[<img src=x onerror=alert(1)>]]></c></x></xml>",
    "<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">alert(1)</x:script>",
    "<html:script xmlns:html=\"http://www.w3.org/1999/xhtml\">alert(1)</html:script>",
    "<x onclick=alert(1)>click",
    "<xss onbeforehellfreezes=alert(1)>",
    "<p onmouseover=\"alert(1)\">hover</p>",
    "<div onpointerenter=alert(1)>x</div>",
    "<a onmouseover=alert(1)>x</a>",
    "' onmouseover='alert(1)",
    "\" autofocus onfocus=\"alert(1)",
    "\" onmouseover=\"alert(1)",
    "x onmouseover=alert(1)",
    "\"><img src=x onerror=alert(1)>",
    "'><svg onload=alert(1)>",
    "` onmouseover=`alert(1)",
    "\"/><svg/onload=alert(1)>",
    "\" style=\"width:expression(alert(1))",
    "' style='background:url(javascript:alert(1))",
    "javascript:alert(1)",
    "JAVASCRIPT:alert(document.domain)",
    "  javascript:alert(1)",
    "javascript://%0aalert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<title><p title=\"</title><img src=x onerror=alert(1)>\">",
    "<a href=\"#\" onclick=\"alert(1)\">x</a>",
    "<body background=\"javascript:alert(1)\">",
    "<bgsound src=\"javascript:alert(1)\">",
    "<layer src=\"http://evil.example/x.js\"></layer>",
    "<img dynsrc=\"javascript:alert(1)\">",
    "<img lowsrc=\"javascript:alert(1)\">",
    "<div datasrc=#x datafld=b dataformatas=html>",
    "<object classid=\"clsid:333C7BC4-460F-11D0-BC04-0080C7055A83\"><param name=\"DataURL\" value=\"javascript:alert(1)\"></object>",
    "<svg><set attributeName=href to=javascript:alert(1)>",
    "<svg><use href=\"data:image/svg+xml,<svg id='x' xmlns='http://www.w3.org/2000/svg'><image href='1' onerror='alert(1)' /></svg>#x\" />",
    "<img src=x onerror=alert(1)",
    "<scr\0ipt>alert(1)</scr\0ipt>",
    "<img src=x on\0error=alert(1)>",
    "<img src=x onerror=alert`1`>",
    "<iframe/src=\"data:text/html,<script>alert(1)</script>\">",
    "';alert(1);//",
    "alert(1)",
    "{{constructor.constructor('alert(1)')()}}",
    "<![><img src=\"]><img src=x onerror=alert(1)//\">",
    "<svg><![CDATA[><image xlink:href=\"]]><img src=x onerror=alert(2)//\"></svg>",
    "<style><img src=\"</style><img src=x onerror=alert(1)//\">",
    "<comment><img src=\"</comment><img src=x onerror=alert(1)//\">",
    "<li style=list-style:url() onerror=alert(1)></li>",
    "<a style=\"-o-link:'javascript:alert(1)';-o-link-source:current\">X</a>",
    "<BODY onload!#$%&()*~+-_.,:;?@[|\\]^`=alert(1)>",
    "<IMG SRC=\" &#14;  javascript:alert(1);\">",
    "<XML ID=\"xss\"><I><B><IMG SRC=\"javas<!-- -->cript:alert(1)\"></B></I></XML>",
    "<SCRIPT FOR=document EVENT=onreadystatechange>alert(1)</SCRIPT>",
    "<a href=\"data:application/x-x509-user-cert;&NewLine;base64&NewLine;,PHNjcmlwdD4=\">X</a>",
    "javascript:/*--></title></style></textarea></script></xmp><svg/onload='+/\"/+/onmouseover=1/+/[*/[]/+alert(1)//'>",
];

/// Attacks knowingly not detected, with why.
const MISSED: &[(&str, &str)] = &[
    (
        "';alert(1);//",
        "breaks out of a JavaScript string: no HTML at all, outside an HTML tokenizer's reach",
    ),
    (
        "alert(1)",
        "bare JavaScript only runs if reflected inside a script; flagging it would flag prose",
    ),
    (
        "{{constructor.constructor('alert(1)')()}}",
        "client-side template injection (AngularJS): template syntax, not HTML",
    ),
];

#[test]
fn benign_corpus_passes() {
    assert!(BENIGN.len() >= 150, "only {} benign values", BENIGN.len());
    let op = detector();
    let flagged: Vec<&str> = BENIGN
        .iter()
        .copied()
        .filter(|v| op.matches(v.as_bytes(), None) || flags(&op, v.as_bytes()))
        .collect();
    assert!(flagged.is_empty(), "benign values flagged: {flagged:#?}");
}

#[test]
fn attack_corpus_is_caught() {
    assert!(ATTACKS.len() >= 100, "only {} attacks", ATTACKS.len());
    let op = detector();
    let missed: Vec<&str> = ATTACKS
        .iter()
        .copied()
        .filter(|v| !op.matches(v.as_bytes(), None))
        .collect();
    let expected: Vec<&str> = MISSED.iter().map(|&(v, _)| v).collect();
    let rate = 100.0 * (ATTACKS.len() - missed.len()) as f64 / ATTACKS.len() as f64;
    println!(
        "attacks caught: {}/{} ({rate:.1}%)",
        ATTACKS.len() - missed.len(),
        ATTACKS.len()
    );
    assert_eq!(
        missed, expected,
        "attacks missed (left) vs listed exceptions (right)"
    );
    assert!(rate >= 95.0, "attack rate {rate:.1}%");
}

/// Percent-encoding every byte and letting the CRS chain decode it gives
/// the same verdict as the raw payload.
#[test]
fn attacks_survive_crs_decoding() {
    let op = detector();
    // jsDecode reads `\\65` as an octal escape, so CSS escapes do not
    // survive the chain; those payloads are left out.
    for &attack in ATTACKS.iter().filter(|a| !a.contains('\\')) {
        let encoded: String = attack.bytes().map(|b| format!("%{b:02x}")).collect();
        let raw = op.matches(attack.as_bytes(), None);
        assert_eq!(flags(&op, encoded.as_bytes()), raw, "{attack:?} encoded");
    }
}

/// `%XX` decoding (invalid escapes kept), with `+` as space for forms.
fn url_decode(s: &[u8], plus: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let hex = |j: usize| s.get(j).and_then(|&b| (b as char).to_digit(16));
        match s[i] {
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

/// `a=1&b=2` as (name, value) pairs: split at `&` and the first `=`.
fn form_args(s: &[u8], out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    for pair in s.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        out.push((url_decode(name, true), url_decode(value, true)));
    }
}

/// Rough XML:/* and XML://@* values: attribute values and text nodes.
fn xml_values(s: &[u8], out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    let mut in_tag = false;
    let mut quote = 0u8;
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        if quote != 0 {
            if b == quote {
                out.push((b"xml".to_vec(), s[start..i].to_vec()));
                quote = 0;
            }
        } else if in_tag {
            match b {
                b'"' | b'\'' => {
                    quote = b;
                    start = i + 1;
                }
                b'>' => {
                    in_tag = false;
                    start = i + 1;
                }
                _ => {}
            }
        } else if b == b'<' {
            if i > start {
                out.push((b"xml".to_vec(), s[start..i].to_vec()));
            }
            in_tag = true;
        }
    }
}

/// Rough JSON values: every string, paired with the string before it.
fn json_values(s: &[u8], out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    let mut strings = Vec::new();
    let mut i = 0;
    while let Some(d) = s[i..].iter().position(|&b| b == b'"') {
        let start = i + d + 1;
        let mut j = start;
        while j < s.len() && s[j] != b'"' {
            j += if s[j] == b'\\' { 2 } else { 1 };
        }
        strings.push(s[start..j.min(s.len())].to_vec());
        i = (j + 1).min(s.len());
    }
    for pair in strings.chunks(2) {
        out.push((pair[0].clone(), pair.get(1).cloned().unwrap_or_default()));
    }
}

/// One stage of a CRS regression test and what it expects.
struct Stage {
    name: String,
    uri: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
    data: Option<Vec<u8>>,
    expect: Vec<i64>,
    no_expect: Vec<i64>,
}

impl Stage {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// ARGS as (name, value): the query string, and a urlencoded, XML or
    /// JSON body.
    fn args(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        if let Some(q) = self.uri.iter().position(|&b| b == b'?') {
            form_args(&self.uri[q + 1..], &mut out);
        }
        if let Some(data) = &self.data {
            let ct = self.header("Content-Type").unwrap_or(b"");
            let ct = String::from_utf8_lossy(ct).to_ascii_lowercase();
            if ct.contains("xml") {
                xml_values(data, &mut out);
            } else if ct.contains("json") {
                json_values(data, &mut out);
            } else if !ct.contains("multipart") {
                form_args(data, &mut out);
            }
        }
        out
    }

    /// The values rule 941100 looks at: cookies and their names, the
    /// User-Agent, ARGS_NAMES and ARGS.
    fn targets_941100(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        if let Some(cookie) = self.header("Cookie") {
            for c in cookie.split(|&b| b == b';') {
                let c = c.trim_ascii();
                match c.iter().position(|&b| b == b'=') {
                    Some(i) => {
                        out.push(c[..i].to_vec());
                        out.push(c[i + 1..].to_vec());
                    }
                    None => out.push(c.to_vec()),
                }
            }
        }
        if let Some(ua) = self.header("User-Agent") {
            out.push(ua.to_vec());
        }
        for (name, value) in self.args() {
            out.push(name);
            out.push(value);
        }
        out
    }

    /// The values rule 941101 looks at: REQUEST_FILENAME and the Referer.
    fn targets_941101(&self) -> Vec<Vec<u8>> {
        let path_end = self
            .uri
            .iter()
            .position(|&b| b == b'?')
            .unwrap_or(self.uri.len());
        let mut out = vec![url_decode(&self.uri[..path_end], false)];
        if let Some(referer) = self.header("Referer") {
            out.push(referer.to_vec());
        }
        out
    }
}

fn ids(y: &Yaml) -> Vec<i64> {
    match y {
        Yaml::Array(a) => a.iter().filter_map(Yaml::as_i64).collect(),
        Yaml::Integer(i) => vec![*i],
        _ => Vec::new(),
    }
}

fn text(y: &Yaml) -> Option<Vec<u8>> {
    match y {
        Yaml::String(s) => Some(s.as_bytes().to_vec()),
        Yaml::Integer(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

/// The stages of a regression test file (those given as an encoded raw
/// request are left out).
fn stages(file: &Path) -> Vec<Stage> {
    let Ok(src) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    let Ok(docs) = YamlLoader::load_from_str(&src) else {
        println!("unreadable YAML: {}", file.display());
        return Vec::new();
    };
    let mut out = Vec::new();
    let stem = file
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    for doc in &docs {
        for test in doc["tests"].as_vec().map(Vec::as_slice).unwrap_or(&[]) {
            let id = test["test_id"].as_i64().unwrap_or(0);
            for stage in test["stages"].as_vec().map(Vec::as_slice).unwrap_or(&[]) {
                let input = &stage["input"];
                let Some(uri) = text(&input["uri"]) else {
                    continue;
                };
                let headers = input["headers"]
                    .as_hash()
                    .map(|h| {
                        h.iter()
                            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), text(v)?)))
                            .collect()
                    })
                    .unwrap_or_default();
                let log = &stage["output"]["log"];
                out.push(Stage {
                    name: format!("{stem}-{id}"),
                    uri,
                    headers,
                    data: text(&input["data"]),
                    expect: ids(&log["expect_ids"]),
                    no_expect: ids(&log["no_expect_ids"]),
                });
            }
        }
    }
    out
}

fn crs_tests() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/crs-v4.28.0")
        .join("tests/regression/tests");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: ../shared not found");
        None
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
    out.sort();
}

/// Whether the rule's targets of `stage` are flagged.
fn rule_flags(op: &Operator, rule: i64, stage: &Stage) -> bool {
    let targets = if rule == 941100 {
        stage.targets_941100()
    } else {
        stage.targets_941101()
    };
    targets.iter().any(|v| flags(op, v))
}

/// Known CRS expectations we do not meet: (test, reason). None so far.
const CRS_MISSED: &[(&str, &str)] = &[];

#[test]
fn crs_941100_941101_regression() {
    let Some(dir) = crs_tests() else {
        return;
    };
    let op = detector();
    let xss = dir.join("REQUEST-941-APPLICATION-ATTACK-XSS");
    let (mut expected, mut detected, mut clean_expected, mut clean) = (0, 0, 0, 0);
    let mut wrong = Vec::new();
    for rule in [941100, 941101] {
        for stage in stages(&xss.join(format!("{rule}.yaml"))) {
            let hit = rule_flags(&op, rule, &stage);
            if stage.expect.contains(&rule) {
                expected += 1;
                if hit {
                    detected += 1;
                } else if !CRS_MISSED.iter().any(|&(n, _)| n == stage.name) {
                    wrong.push(format!("{} not detected", stage.name));
                }
            }
            if stage.no_expect.contains(&rule) {
                clean_expected += 1;
                if hit {
                    wrong.push(format!("{} flagged", stage.name));
                } else {
                    clean += 1;
                }
            }
        }
    }
    println!("941100/941101 expect_ids detected: {detected}/{expected}");
    println!("941100/941101 no_expect_ids clean: {clean}/{clean_expected}");
    assert!(expected > 0, "no tests read from {}", xss.display());
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The CRS authors' false-positive guard: wherever any test says 941100
/// (or 941101) must not fire, its targets pass.
#[test]
fn crs_no_expect_anywhere() {
    let Some(dir) = crs_tests() else {
        return;
    };
    let op = detector();
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    let (mut checked, mut flagged) = (0, Vec::new());
    for file in &files {
        for stage in stages(file) {
            for rule in [941100, 941101] {
                if stage.no_expect.contains(&rule) {
                    checked += 1;
                    if rule_flags(&op, rule, &stage) {
                        flagged.push(format!("{} ({rule})", stage.name));
                    }
                }
            }
        }
    }
    println!(
        "no_expect guards checked: {checked} in {} files",
        files.len()
    );
    assert!(
        flagged.is_empty(),
        "flagged despite no_expect_ids: {flagged:#?}"
    );
}

/// Informational: how many positive tests of the other 941xxx rules our
/// detector flags on their ARGS, and how many stages of non-XSS files.
#[test]
fn crs_other_rules_informational() {
    let Some(dir) = crs_tests() else {
        return;
    };
    let op = detector();
    let xss = dir.join("REQUEST-941-APPLICATION-ATTACK-XSS");
    let mut files = Vec::new();
    yaml_files(&xss, &mut files);
    let (mut total, mut hits) = (0, 0);
    for file in &files {
        let stem = file
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Ok(rule) = stem.parse::<i64>() else {
            continue;
        };
        if rule == 941100 || rule == 941101 {
            continue;
        }
        let (mut t, mut h) = (0, 0);
        for stage in stages(file).iter().filter(|s| s.expect.contains(&rule)) {
            t += 1;
            let args = stage.args();
            if args.iter().any(|(n, v)| flags(&op, n) || flags(&op, v)) {
                h += 1;
            } else if std::env::var_os("XSS_SHOW_MISSES").is_some() {
                for (_, v) in &args {
                    let v = String::from_utf8_lossy(&apply_chain(&CHAIN, v)).into_owned();
                    println!(
                        "    miss {}: {:?}",
                        stage.name,
                        v.chars().take(120).collect::<String>()
                    );
                }
            }
        }
        println!("  {rule}: {h}/{t}");
        total += t;
        hits += h;
    }
    println!("other 941xxx expect_ids tests flagged on ARGS: {hits}/{total}");

    let mut all = Vec::new();
    yaml_files(&dir, &mut all);
    let (mut stages_seen, mut other_hits) = (0, Vec::new());
    for file in all.iter().filter(|f| !f.to_string_lossy().contains("941-")) {
        for stage in stages(file) {
            stages_seen += 1;
            if let Some(v) = stage.targets_941100().iter().find(|v| flags(&op, v)) {
                let v = String::from_utf8_lossy(&apply_chain(&CHAIN, v)).into_owned();
                let short: String = v.chars().take(100).collect();
                other_hits.push(format!("{}: {short:?}", stage.name));
            }
        }
    }
    println!(
        "stages outside 941 flagged on 941100 targets: {}/{stages_seen}: {other_hits:#?}",
        other_hits.len()
    );
}

/// Cheap sanity on what a borrowed chain result looks like.
#[test]
fn chain_output_is_detected() {
    let op = detector();
    let v: Cow<'_, [u8]> = apply_chain(&CHAIN, b"%3Cscript%3Ealert(1)%3C/script%3E");
    assert!(op.matches(&v, None));
}
