//! Transformation tests: hand-derived
//! cases for each libmodsecurity v3 quirk, CRS-style chains, and a
//! no-panic sweep over random bytes.

#![allow(clippy::unwrap_used)]

use std::borrow::Cow;

use gatehouse_waf::transform::{apply_chain, Transform};

fn tf(name: &str) -> Transform {
    Transform::from_name(name).unwrap_or_else(|| panic!("unknown transformation {name}"))
}

fn show(b: &[u8]) -> String {
    b.escape_ascii().to_string()
}

/// Applies `name` to each input and compares with the expected bytes.
fn check(name: &str, cases: &[(&[u8], &[u8])]) {
    let t = tf(name);
    for (input, want) in cases {
        let got = t.apply(input);
        assert_eq!(show(&got), show(want), "{name}({:?})", show(input));
    }
}

/// Asserts that `name` hands each input back as a borrow.
fn check_borrowed(name: &str, inputs: &[&[u8]]) {
    let t = tf(name);
    for input in inputs {
        let got = t.apply(input);
        assert!(
            matches!(got, Cow::Borrowed(_)),
            "{name}({:?}) allocated",
            show(input)
        );
        assert_eq!(&*got, *input, "{name}({:?})", show(input));
    }
}

#[test]
fn names() {
    for t in Transform::ALL {
        assert_eq!(Transform::from_name(t.name()), Some(t), "{}", t.name());
        let upper = t.name().to_ascii_uppercase();
        assert_eq!(Transform::from_name(&upper), Some(t), "{upper}");
    }
    let aliases = [
        ("normalisePath", Transform::NormalizePath),
        ("NORMALISEPATHWIN", Transform::NormalizePathWin),
        ("utf8ToUnicode", Transform::Utf8ToUnicode),
        ("urldecodeuni", Transform::UrlDecodeUni),
        ("cmd_line", Transform::CmdLine),
    ];
    for (name, t) in aliases {
        assert_eq!(Transform::from_name(name), Some(t), "{name}");
    }
    for bad in ["", "t:lowercase", "lower", "urlDecode ", "phpArgsNames"] {
        assert_eq!(Transform::from_name(bad), None, "{bad:?}");
    }
    assert_eq!(Transform::NormalizePathWin.name(), "normalizePathWin");
    assert_eq!(Transform::Utf8ToUnicode.name(), "utf8toUnicode");
}

#[test]
fn case() {
    check(
        "lowercase",
        &[
            (b"", b""),
            (b"SeLeCt", b"select"),
            (b"\xc3\x89A\xff", b"\xc3\x89a\xff"),
        ],
    );
    check("uppercase", &[(b"SeLeCt\xe9", b"SELECT\xe9")]);
    check_borrowed("lowercase", &[b"", b"select 1", b"\xc3\x89\xff"]);
    check_borrowed("uppercase", &[b"SELECT 1", b"\xe9"]);
}

#[test]
fn url_decode() {
    check(
        "urlDecode",
        &[
            (b"%3Cscript%3E", b"<script>"),
            (b"%3cscript%3e", b"<script>"),
            (b"a+b%20c", b"a b c"),
            (b"%ff%FE%00", b"\xff\xfe\x00"),
            (b"%2541", b"%41"),
            (b"%%41", b"%A"),
            (b"%4", b"%4"),
            (b"%4g%41", b"%4gA"),
            (b"%u0041", b"%u0041"),
            (b"\xff%41\x80", b"\xffA\x80"),
            (b"x%41long tail+end%", b"xAlong tail end%"),
        ],
    );
    check_borrowed(
        "urlDecode",
        &[b"", b"plain/path?x=1", b"%", b"%4", b"%zz", b"\xff\xfe"],
    );
}

#[test]
fn url_decode_uni() {
    check(
        "urlDecodeUni",
        &[
            (b"%u0041%U0042", b"AB"),
            (b"%uFF1Cscript%uff1e", b"<script>"),
            (b"%uff01%uFF5E", b"!~"),
            (b"%uff00%uff5f%uff7f%uffa0", b"\x00\x5f\x7f\xa0"),
            (b"%u1141%u00e9%u4e2d", b"A\xe9\x2d"),
            (b"%u004", b"%u004"),
            (b"%u00g1%41", b"%u00g1A"),
            (b"%u%41", b"%uA"),
            (b"%3C+%27", b"< '"),
        ],
    );
    check_borrowed("urlDecodeUni", &[b"abc", b"%u", b"%u12", b"%uzzzz"]);
}

#[test]
fn html_entity_decode() {
    check(
        "htmlEntityDecode",
        &[
            (b"&#x3c;script&#x3E;", b"<script>"),
            (b"&#60;script&#62", b"<script>"),
            (b"&lt;a&GT;&Quot;&amp;&nbsp;", b"<a>\"&\xa0"),
            (b"&amp;lt;", b"&lt;"),
            // Only whole names count: `&ltx;` is not `&lt;`.
            (b"&ltx;&foo;&l;", b"&ltx;&foo;&l;"),
            // One byte per numeric entity: the low byte of its value...
            (b"&#x4141;&#321;&#x0000003c;", b"AA<"),
            // ...or 0xff once strtol saturates.
            (b"&#99999999999999999999;&#xfffffffffffffffff;", b"\xff\xff"),
            (b"&#x;&#;&#xz", b"&#x;&#;&#xz"),
            (b"&", b"&"),
            (b"&#", b"&#"),
            (b"&#x", b"&#x"),
            (b"&#x1", b"\x01"),
            (b"& lt;&;", b"& lt;&;"),
            (b"\xff&amp\xfe", b"\xff&\xfe"),
        ],
    );
    check_borrowed(
        "htmlEntityDecode",
        &[b"", b"no entities", b"a & b", b"&foo;", b"&#"],
    );
}

#[test]
fn js_decode() {
    check(
        "jsDecode",
        &[
            (b"\\x3cscript\\x3e", b"<script>"),
            (b"\\u003c\\uff1c\\uFF1E\\u4e2d", b"<<>\x2d"),
            (
                br#"\a\b\f\n\r\t\v\?\'\"\\"#,
                b"\x07\x08\x0c\n\r\t\x0b?'\"\\",
            ),
            (b"\\0\\12\\123\\1234", b"\x00\nSS4"),
            // Three octal digits only while the value fits in a byte.
            (b"\\400\\777", b"\x200?7"),
            (b"\\8\\08", b"8\x008"),
            (b"\\X41\\U0041", b"X41U0041"),
            (b"\\x4\\u004", b"x4u004"),
            (b"a\\", b"a\\"),
            (b"\\\xff", b"\xff"),
        ],
    );
    check_borrowed("jsDecode", &[b"", b"alert(1)", b"\\"]);
}

#[test]
fn css_decode() {
    check(
        "cssDecode",
        &[
            (b"\\3c script\\3e", b"<script>"),
            (b"\\65val \\65a", b"eval Z"),
            (b"java\\script", b"javascript"),
            (b"\\ff01\\0ff01\\00ff5e\\1ff01", b"!!~\x01"),
            (b"\\ff5f\\fffe\\ff00", b"\x5f\xfe\x00"),
            (b"\\41\t\\41\x0b\\41  b", b"AAA b"),
            (b"a\\\nb\\\r\n", b"ab\r\n"),
            (b"\\g\\\\\\", b"g\\"),
            (b"\\\xff", b"\xff"),
        ],
    );
    check_borrowed("cssDecode", &[b"", b"color: red"]);
}

#[test]
fn escape_seq_decode() {
    check(
        "escapeSeqDecode",
        &[
            (b"\\8\\9\\666\\0123", b"89\xb6\n3"),
            (b"\\xag\\Xga", b"xagXga"),
            (b"\\X41\\x42", b"AB"),
            (b"\\777\\400", b"\xff\x00"),
            (b"\\q\\u0041", b"qu0041"),
            (b"\\\xff", b"\xff"),
        ],
    );
    check_borrowed("escapeSeqDecode", &[b"", b"abc", b"\\"]);
}

#[test]
fn sql_hex_decode() {
    check(
        "sqlHexDecode",
        &[
            (b"SELECT 0x61646d696e", b"SELECT admin"),
            (b"0X41,0x4", b"A,0x4"),
            (b"0x414", b"A4"),
            (b"0x41g", b"Ag"),
            (b"x0x41", b"xA"),
            (b"0x0x41", b"0xA"),
        ],
    );
    check_borrowed("sqlHexDecode", &[b"", b"0x", b"0x4", b"0xzz", b"select 1"]);
}

#[test]
fn hex_decode() {
    check(
        "hexDecode",
        &[
            (b"3c7363726970743e", b"<script>"),
            (b"4A4b", b"JK"),
            (b"41424", b"AB"),
            (b"a", b""),
            // No validation: ModSecurity's x2c arithmetic on any byte.
            (b"zz", b"S"),
            (b"\xff\xff", b"("),
        ],
    );
    check_borrowed("hexDecode", &[b""]);
}

#[test]
fn base64_decode() {
    check(
        "base64Decode",
        &[
            (b"PHNjcmlwdD4=", b"<script>"),
            (b"VGVz\r\ndA==", b"Test"),
            (b"VGVz  \ndA==  ", b"Test"),
            // mbedtls drops a partial last quantum...
            (b"VGVzdA", b"Tes"),
            // ...and rejects the whole value on any invalid byte.
            (b"VGVzdA==!", b""),
            (b"VGVz dA==", b""),
            (b"VGVz\rdA==", b""),
            (b"QQ=A", b""),
            (b"Q===", b""),
            (b"LV8-", b""),
            (b"\xff", b""),
            (b"   ", b""),
            // The value ends at its first NUL (strlen).
            (b"QUJD\x00!!!", b"ABC"),
            (b"\x00", b""),
        ],
    );
    check_borrowed("base64Decode", &[b""]);
}

#[test]
fn base64_decode_ext() {
    check(
        "base64DecodeExt",
        &[
            (b"VGVzdA", b"Test"),
            (b"VG Vz\x00d-A.", b"Test"),
            (b"QQ==", b"A"),
            (b"QQ", b"A"),
            (b"Q", b""),
            (b"Q=", b""),
            (b"Q==", b""),
            // A final `9` on a quantum's first digit reads as the pad.
            (b"QUJD9", b""),
            (b"QUJDQ", b"ABC"),
            (b"\xffQUJD\xfe", b"ABC"),
        ],
    );
    check_borrowed("base64DecodeExt", &[b""]);
}

#[test]
fn encoders() {
    check(
        "base64Encode",
        &[(b"<script>", b"PHNjcmlwdD4="), (b"\xff\x00", b"/wA=")],
    );
    check("hexEncode", &[(b"<\xff\x00", b"3cff00")]);
    check(
        "urlEncode",
        &[
            (b"a b*c", b"a+b*c"),
            (b"<'\xff~-_.", b"%3c%27%ff%7e%2d%5f%2e"),
        ],
    );
    check(
        "length",
        &[
            (b"", b"0"),
            (b"\xff\x00abc", b"5"),
            (&[b'x'; 1234], b"1234"),
        ],
    );
    check_borrowed("urlEncode", &[b"", b"abcXYZ019*"]);
    check_borrowed("base64Encode", &[b""]);
    check_borrowed("hexEncode", &[b""]);
    check_borrowed("length", &[b"1"]);
}

#[test]
fn digests() {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let sha1 = tf("sha1");
    let md5 = tf("md5");
    assert_eq!(
        hex(&sha1.apply(b"abc")),
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(hex(&md5.apply(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
    let fox = b"The quick brown fox jumps over the lazy dog";
    assert_eq!(
        hex(&sha1.apply(fox)),
        "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12"
    );
    assert_eq!(hex(&md5.apply(fox)), "9e107d9d372bb6826bd81d3542a419d6");
    assert_eq!(sha1.apply(b"").len(), 20);
    assert_eq!(md5.apply(b"").len(), 16);
}

#[test]
fn utf8_to_unicode() {
    check(
        "utf8toUnicode",
        &[
            (b"caf\xc3\xa9", b"caf%u00e9"),
            (b"\xe4\xb8\xad\xf0\x9f\x98\x80", b"%u4e2d%u1f600"),
            (b"\xef\xbc\x9c", b"%uff1c"),
            // Invalid or truncated sequences: the lead byte is dropped,
            // stray continuation bytes are copied.
            (b"a\xc3", b"a"),
            (b"\xc3(", b"("),
            (b"\xe4\xb8", b"\xb8"),
            (b"\x80\xbf\xf8\xff", b"\x80\xbf\xf8\xff"),
            // Overlong forms and surrogates: the lead byte follows.
            (b"\xc0\xaf", b"%u002f\xc0"),
            (b"\xe0\x80\xaf", b"%u002f\xe0"),
            (b"\xed\xa0\x80", b"%ud800\xed"),
            // F5-F7 leads are copied before their `%u` as well.
            (b"\xf5\x80\x80\x80", b"\xf5%u140000"),
            (b"\xf5(", b"\xf5("),
            // A NUL survives only as the last byte.
            (b"a\x00b\x00", b"ab\x00"),
        ],
    );
    check_borrowed("utf8toUnicode", &[b"", b"plain ascii", b"nul at end\x00"]);
}

#[test]
fn cmd_line() {
    check(
        "cmdLine",
        &[
            (b"c\\a\\t /e\\t\\c/pas\\swd", b"cat/etc/passwd"),
            (b"C^OMMAND /C DIR", b"command/c dir"),
            (b"a ( b", b"a( b"),
            (b"a;;  ,b", b"a b"),
            (b"\t\r\nx", b" x"),
            (b"ping\t-c 1", b"ping -c 1"),
            (b"'ls' -la", b"ls -la"),
            (b"a \" /b", b"a/b"),
            (b"A\x0b\x0cB", b"a\x0b\x0cb"),
            (b"\xc3\x89A", b"\xc3\x89a"),
        ],
    );
    check_borrowed("cmdLine", &[b"", b"ls -la", b"a\x0bb"]);
}

#[test]
fn whitespace_and_nulls() {
    check(
        "compressWhitespace",
        &[
            (b"a \t\x0b\x0c\r\n b", b"a b"),
            (b"\n\na", b" a"),
            // v3 uses isspace only: NBSP is not whitespace here.
            (b"a\xa0\xa0b", b"a\xa0\xa0b"),
        ],
    );
    check(
        "removeWhitespace",
        &[
            (b" a\t\x0b\x0cb\r\n", b"ab"),
            (b"a\xc2\xa0b\xa0", b"ab"),
            (b"\xc2", b""),
            (b"\xc3\xa9", b"\xc3\xa9"),
        ],
    );
    check("removeNulls", &[(b"\x00a\x00\x00b\x00", b"ab")]);
    check("replaceNulls", &[(b"\x00a\x00\x00b", b" a  b")]);
    check_borrowed("compressWhitespace", &[b"", b"a b c", b"\xa0"]);
    check_borrowed("removeWhitespace", &[b"", b"abc"]);
    check_borrowed("removeNulls", &[b"", b"abc"]);
    check_borrowed("replaceNulls", &[b"", b"abc"]);
}

#[test]
fn comments() {
    check(
        "removeComments",
        &[
            (b"1 OR 1=1-- comment", b"1 OR 1=1"),
            (b"1 OR 1=1 -- x", b"1 OR 1=1 "),
            (b"1#x", b"1"),
            (b"a<!--b-->c", b"ac"),
            (b"a<!--b-->cd", b"acd"),
            // The byte after a closing marker is copied blindly: the C
            // string's NUL when the input ends there...
            (b"a/*b*/", b"a\x00"),
            (b"a<!--b-->", b"a\x00"),
            // ...or the start of the next comment.
            (b"/*a*//*b*/", b"/*b*/"),
            (b"a/*b", b"a "),
            (b"x--", b"x"),
            (b"un*/closed", b"un*/closed"),
        ],
    );
    check(
        "replaceComments",
        &[
            (b"UNION/**/SELECT", b"UNION SELECT"),
            (b"a/*b*/c/*d", b"a c "),
            (b"a--b#c", b"a--b#c"),
        ],
    );
    check(
        "removeCommentsChar",
        &[
            (b"UNION/**/SELECT", b"UNIONSELECT"),
            (b"<!--x-->", b"x"),
            (b"a--b#c-->d", b"abcd"),
            (b"a-b*c/d", b"a-b*c/d"),
        ],
    );
    check_borrowed("removeComments", &[b"", b"select 1", b"a-b"]);
    check_borrowed("replaceComments", &[b"", b"a * / b"]);
    check_borrowed("removeCommentsChar", &[b"", b"a - b"]);
    // Cut at `--`: a prefix of the input, still no copy.
    assert!(matches!(
        tf("removeComments").apply(b"ab--c"),
        Cow::Borrowed(b"ab")
    ));
}

#[test]
fn normalize_path() {
    check(
        "normalizePath",
        &[
            (b"/etc/./passwd/../shadow", b"/etc/shadow"),
            (b"/a/b/../../../etc/passwd", b"/etc/passwd"),
            (b"/..", b""),
            (b"/.", b""),
            (b"/", b"/"),
            (b"//", b"/"),
            (b"a//b/./c/", b"a/b/c/"),
            (b"a\\..\\b", b"a\\..\\b"),
            (b"/x/\xff/../y", b"/x/y"),
        ],
    );
    check(
        "normalizePathWin",
        &[
            (b"c:\\windows\\..\\boot.ini", b"c:/boot.ini"),
            (b"\\a\\.\\b\\", b"/a/b/"),
            (b"a\\/b", b"a/b"),
            // `\` is converted lazily: the last of three or more
            // separators in a row stays a backslash.
            (b"a\\/\\b", b"a\\b"),
            (b"a\\\\\\b", b"a\\b"),
            (b"\\\\\\", b"\\"),
            (b"a\\\\\\..\\\\\\b", b"b"),
        ],
    );
    check_borrowed(
        "normalizePath",
        &[b"", b"abc", b"/a/b", b"/a/b/", b"a.b/c.d", b"../x"],
    );
    check_borrowed("normalizePathWin", &[b"", b"/a/b.c"]);
    // One segment with dots inside is left as it is; one that ends in a
    // dot is walked as libmodsecurity walks it.
    check_borrowed(
        "normalizePath",
        &[b"19.99", b"maria.jensen@example.com", b"..", b"a.."],
    );
    check("normalizePath", &[(b".", b""), (b"ab..", b"")]);
}

#[test]
fn trim_and_parity() {
    check(
        "trim",
        &[(b"\x0b\x0c a b\t\r\n", b"a b"), (b" \xa0 ", b"\xa0")],
    );
    check("trimLeft", &[(b"\x0b a ", b"a ")]);
    check("trimRight", &[(b" a \x0b", b" a")]);
    check("trim", &[(b"   ", b"")]);
    for name in ["trim", "trimLeft", "trimRight"] {
        // Trimming only ever narrows the input: never a copy.
        for input in [&b"  x  "[..], b"", b"x", b"\t\t"] {
            assert!(matches!(tf(name).apply(input), Cow::Borrowed(_)), "{name}");
        }
    }
    check("parityEven7bit", &[(b"ac\x80\x81", b"\xe1c\x80\x01")]);
    check("parityOdd7bit", &[(b"ac\x80\x81", b"a\xe3\x00\x81")]);
    check("parityZero7bit", &[(b"a\xe1\xff", b"aa\x7f")]);
    check_borrowed("parityZero7bit", &[b"", b"abc"]);
    check_borrowed("parityEven7bit", &[b"cef"]);
}

#[test]
fn none_is_identity() {
    check_borrowed("none", &[b"", b"%41 &lt; ABC", b"\xff\x00"]);
}

/// `t:` chains as the Core Rule Set writes them.
#[test]
fn crs_chains() {
    let chain = |names: &[&str]| names.iter().map(|n| tf(n)).collect::<Vec<_>>();
    let xss = chain(&[
        "none",
        "utf8toUnicode",
        "urlDecodeUni",
        "htmlEntityDecode",
        "jsDecode",
        "cssDecode",
        "removeNulls",
    ]);
    let cases: [(&[Transform], &[u8], &[u8]); 9] = [
        (
            &chain(&["urlDecodeUni", "htmlEntityDecode", "lowercase"]),
            b"%3Cscript%3E",
            b"<script>",
        ),
        (
            &chain(&["urlDecodeUni", "htmlEntityDecode", "lowercase"]),
            b"&#x3c;SCRIPT&#x3E;",
            b"<script>",
        ),
        (
            &chain(&["urlDecodeUni", "htmlEntityDecode", "lowercase"]),
            b"%26lt%3BScRiPt%26gt%3B",
            b"<script>",
        ),
        (
            &chain(&["urlDecodeUni"]),
            b"1%27%20OR%20%271%27=%271",
            b"1' OR '1'='1",
        ),
        (
            &chain(&["urlDecodeUni", "normalizePath"]),
            b"/etc/./passwd/../shadow",
            b"/etc/shadow",
        ),
        (
            &chain(&["urlDecodeUni", "normalizePathWin"]),
            b"..%5c..%5cwindows%5cwin.ini",
            b"../../windows/win.ini",
        ),
        (
            &chain(&["cmdLine"]),
            b"c\\a\\t /e\\t\\c/pas\\swd",
            b"cat/etc/passwd",
        ),
        (
            &chain(&[
                "urlDecodeUni",
                "removeComments",
                "compressWhitespace",
                "lowercase",
            ]),
            b"UNION/**/SELECT%09%091--",
            b"unionselect 1",
        ),
        (&xss, b"%5Cu003cscript%5Cx3E", b"<script>"),
    ];
    for (chain, input, want) in cases {
        assert_eq!(
            show(&apply_chain(chain, input)),
            show(want),
            "{:?}",
            show(input)
        );
    }
    // Nothing to do anywhere in the chain: no allocation at all.
    let clean = apply_chain(&xss, b"just some text");
    assert!(matches!(clean, Cow::Borrowed(_)));
    // Borrowing survives a transformation that only narrows.
    let trimmed = apply_chain(&chain(&["lowercase", "trim", "removeNulls"]), b"  abc  ");
    assert!(matches!(trimmed, Cow::Borrowed(b"abc")));
    assert_eq!(&*apply_chain(&[], b"x"), b"x");
}

/// xorshift64*: deterministic random bytes without a dev-dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Bytes biased towards the characters the decoders react to.
    fn bytes(&mut self) -> Vec<u8> {
        const SPECIAL: &[u8] =
            b"%+&#;xXuU\\/.*-<!>=0123456789abcdefABCDEF \t\n\r\x00\x0b\xa0\xc2\xe0\xf0\xf5\xff\x80";
        let len = (self.next() % 40) as usize;
        (0..len)
            .map(|_| {
                let r = self.next();
                if r % 3 == 0 {
                    (r >> 8) as u8
                } else {
                    SPECIAL[(r >> 8) as usize % SPECIAL.len()]
                }
            })
            .collect()
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let input = rng.bytes();
        for t in Transform::ALL {
            let out = t.apply(&input);
            // A borrow is always a window of the input, never other memory.
            if let Cow::Borrowed(b) = &out {
                let range = input.as_ptr_range();
                assert!(b.is_empty() || range.contains(&b.as_ptr()), "{}", t.name());
            }
            if matches!(t, Transform::Sha1) {
                assert_eq!(out.len(), 20);
            }
        }
        let n = (rng.next() % 6) as usize;
        let chain: Vec<_> = (0..n)
            .map(|_| Transform::ALL[(rng.next() % Transform::ALL.len() as u64) as usize])
            .collect();
        let stepwise = chain
            .iter()
            .fold(input.clone(), |v, t| t.apply(&v).into_owned());
        assert_eq!(apply_chain(&chain, &input).into_owned(), stepwise);
    }
}

/// `leaves` must never claim a transformation is the identity when it is
/// not: checked on every transformation over many short byte strings.
#[test]
fn identity_shortcut_is_never_wrong() {
    use gatehouse_waf::transform::{byte_classes, Transform};
    let alphabet: &[u8] = b"aZx0 .%+&\\\0\t/\"',;^*-#<\x80\xc2\xa0X9";
    let mut seed = 0x1234_5678u32;
    for _ in 0..20_000 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let len = (seed >> 24) as usize % 8;
        let value: Vec<u8> = (0..len)
            .map(|i| {
                let r = seed.rotate_left(i as u32 * 5) as usize;
                alphabet[r % alphabet.len()]
            })
            .collect();
        let classes = byte_classes(&value);
        for t in Transform::ALL {
            if t.leaves(classes) {
                assert_eq!(&*t.apply(&value), &value[..], "{t:?} on {value:?}");
            }
        }
    }
}
