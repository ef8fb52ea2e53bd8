//! Operator semantics (libmodsecurity v3), the CRS `@rx` compile rate, and
//! a no-panic sweep.
#![allow(clippy::unwrap_used)]

use gatehouse_waf::operator::{parse_int, Operator};
use std::path::{Path, PathBuf};

/// `../shared` beside the repository, as CI provides it.
fn crs_rules() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/crs-v4.28.0/rules")
}

fn op(name: &str, arg: &str) -> Operator {
    Operator::compile(name, arg, Path::new("."))
        .unwrap_or_else(|e| panic!("@{name} {arg:?} did not compile: {e}"))
}

fn err(name: &str, arg: &str) -> String {
    match Operator::compile(name, arg, Path::new(".")) {
        Ok(o) => panic!("@{name} {arg:?} compiled: {o:?}"),
        Err(e) => e.to_string(),
    }
}

fn m(name: &str, arg: &str, value: &[u8]) -> bool {
    op(name, arg).matches(value, None)
}

/// The `|`-separated values of `l`: an empty list has none, `b"|"` is
/// the empty value (twice).
fn list(l: &[u8]) -> impl Iterator<Item = &[u8]> {
    l.split(|&c| c == b'|')
        .take(if l.is_empty() { 0 } else { usize::MAX })
}

/// `op` matches every value of the list `yes` and none of `no`.
fn check(op: &Operator, yes: &[u8], no: &[u8]) {
    for v in list(yes) {
        let v_ = String::from_utf8_lossy(v);
        assert!(op.matches(v, None), "{op:?} should match {v_:?}");
    }
    for v in list(no) {
        let v_ = String::from_utf8_lossy(v);
        assert!(!op.matches(v, None), "{op:?} should not match {v_:?}");
    }
}

/// A scratch directory for list files, unique to this process and test.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gatehouse-waf-op-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn rx_flags_follow_modsecurity() {
    assert!(m("rx", "a.b", b"a\nb"), "DOTALL");
    assert!(m("rx", "^b$", b"a\nb\nc"), "MULTILINE");
    assert!(!m("rx", "abc", b"ABC"), "case-sensitive by default");
    assert!(m("rx", "(?i)abc", b"xAbC"));
    assert!(m("rx", "(?i:ab)c", b"ABc") && !m("rx", "(?i:ab)c", b"ABC"));
    assert!(m("rx", "", b""), "empty pattern matches everything");
    assert!(m("RX", "x", b"x"), "operator names are case-insensitive");
}

#[test]
fn rx_works_on_bytes() {
    assert!(m("rx", r"^.$", b"\xff"));
    assert!(m("rx", r"\xff", b"\xff"));
    assert!(m("rx", r"[\x7f-\x{ff}]", b"\xfe"), "\\x{{..}} is a byte");
    assert!(m("rx", r"\x{e2}\x80[\x98\x99]", "\u{2018}".as_bytes()));
    assert!(!m("rx", r"\w", "é".as_bytes()), "\\w is ASCII");
    assert!(m("rx", "é", "é".as_bytes()), "literal UTF-8 is its bytes");
    assert!(
        m("rx", "[é]", b"\xa9"),
        "a class of a UTF-8 literal holds its bytes"
    );
    assert!(m("rx", r"\x5c", b"a\\b"));
    assert!(m("rx", r"\s", b"\x0b"));
}

#[test]
fn rx_rewrites_pcre_only_syntax() {
    // Literal in PCRE, word boundaries in `regex`.
    assert!(m("rx", r"\<a\>", b"<a>") && !m("rx", r"\<a", b" a"));
    // `{` that is not a quantifier is literal.
    assert!(m("rx", "a{,3}", b"a{,3}") && m("rx", "x{", b"x{") && m("rx", "%{tx}", b"%{tx}"));
    assert!(m("rx", "^a{2,3}$", b"aaa") && !m("rx", "^a{2,3}$", b"aaaa"));
    // Possessive and atomic become greedy / plain groups.
    assert!(m("rx", "^a++b", b"aab") && m("rx", r"\d*+x", b"12x"));
    assert!(m("rx", "(?>ab|a)c", b"abc"));
    // `&&`, `--`, `~~` and `[` are plain characters in a PCRE class.
    assert!(m("rx", "[&&]", b"&") && m("rx", "[a-c--]", b"-") && m("rx", "[~~]", b"~"));
    assert!(m("rx", r"[[x]", b"[") && m("rx", "[]a]", b"]") && m("rx", "[^]a]", b"b"));
    assert!(m("rx", r"[\w-.]", b"-") && m("rx", r"[a\-z]", b"-") && !m("rx", r"[a\-z]", b"b"));
    assert!(m("rx", "[[:alpha:]]", b"q") && !m("rx", "[[:^alpha:]]", b"q"));
    assert!(m("rx", "[:=]", b"="), "not a POSIX class");
    // Escapes PCRE has and `regex` lacks or reads differently.
    assert!(m("rx", r"a\Z", b"xa\n") && m("rx", r"a\Z", b"a") && !m("rx", r"a\Z", b"a\nb"));
    assert!(m("rx", r"\h", b"\xa0") && m("rx", r"[\h]", b"\t") && !m("rx", r"\h", b"\n"));
    assert!(m("rx", r"\v", b"\r") && m("rx", r"\v", b"\x0b") && !m("rx", r"\v", b"v"));
    assert!(m("rx", r"[^\H]", b" ") && !m("rx", r"[^\H]", b"a"));
    assert!(m("rx", r"\e\cA\a\012\o{101}", b"\x1b\x01\x07\nA"));
    assert!(m("rx", r"\Qa.b\E", b"a.b") && !m("rx", r"\Qa.b\E", b"axb"));
    assert!(m("rx", r"[\Q]\E]", b"]"));
    assert!(m("rx", r"[\b]", b"\x08"));
    assert!(m("rx", "(?x) a b # comment\n c", b"abc") && m("rx", r"(?x)a\ b", b"a b"));
    assert!(m("rx", "(?x:[ ])", b" "), "class whitespace stays under x");
    assert!(m("rx", "a(?#comment)b", b"ab"));
    assert!(m("rx", r"\N", b"a") && !m("rx", r"^\N$", b"\n"));
}

#[test]
fn rx_refuses_what_regex_cannot_do() {
    for (pattern, construct) in [
        ("a(?=b)", "lookahead"),
        ("a(?!b)", "lookahead"),
        ("(?<=a)b", "lookbehind"),
        ("(?<!a)b", "lookbehind"),
        (r"(a)\1", "backreference"),
        (r"(?<n>a)\k<n>", "backreference"),
        ("(?P<n>a)(?P=n)", "backreference"),
        (r"\Ga", r"\G"),
        (r"a\Kb", r"\K"),
        ("(a|(?R))", "recursion"),
        ("(a)(?1)", "subroutine"),
        ("(?(1)a|b)", "conditional"),
        ("(*SKIP)a", "verb"),
        (r"\p{L}", "Unicode property"),
        ("(?|a)", "branch reset"),
        (r"\y", "unrecognized escape"),
        (r"\x{100}", "above 0xff"),
        ("a(", "missing `)`"),
        ("a)", "unmatched `)`"),
        ("[a", "terminating `]`"),
        ("[z-a]", "out of order"),
        ("[[:nope:]]", "POSIX class"),
        ("a\\", "trailing backslash"),
        ("*a", "repetition"),
    ] {
        let e = err("rx", pattern);
        assert!(e.contains(construct), "{pattern:?}: {e}");
        assert!(e.starts_with("`@rx` pattern: "), "{e}");
    }
}

#[test]
fn whole_value_rx_answers_as_the_regex_does() {
    // `^.*$` takes a shortcut (with DOTALL it matches every value whole);
    // a pattern the shortcut does not know (`^(?:.*)$`) runs the regex.
    let (fast, slow) = (op("rx", "^.*$"), op("rx", "^(?:.*)$"));
    let values: [&[u8]; 9] = [
        b"",
        b"host",
        b"x-forwarded-for",
        b"a b\tc",
        b"two\nlines",
        b"end\n",
        b"cr\r",
        "caf\u{e9}".as_bytes(),
        b"\xff\xfe",
    ];
    for v in values {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let hit = fast.matches(v, Some(&mut a));
        assert_eq!(hit, slow.matches(v, Some(&mut b)), "{v:?}");
        assert_eq!(a, b, "{v:?}");
        assert_eq!(hit, fast.matches(v, None), "{v:?}");
    }
}

#[test]
fn rx_captures_fill_tx() {
    let rx = op("rx", r"(\w+)=(\d+)?(x)?");
    let mut caps = vec![b"stale".to_vec()];
    assert!(rx.matches(b"--id=42--", Some(&mut caps)));
    assert_eq!(
        caps,
        vec![b"id=42".to_vec(), b"id".to_vec(), b"42".to_vec()]
    );
    assert!(rx.matches(b"k=", Some(&mut caps)));
    assert_eq!(
        caps,
        vec![b"k=".to_vec(), b"k".to_vec()],
        "trailing unset groups dropped"
    );
    assert!(op("rx", "(a)?(b)").matches(b"b", Some(&mut caps)));
    assert_eq!(caps, vec![b"b".to_vec(), vec![], b"b".to_vec()]);
    assert!(!rx.matches(b"--", Some(&mut caps)));
    assert!(caps.is_empty(), "cleared when nothing matches");
    // At most TX:0..TX:9.
    let many = op("rx", "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)");
    assert!(many.matches(b"abcdefghijk", Some(&mut caps)));
    assert_eq!(caps.len(), 10);
    assert_eq!(caps[9], b"i");
    // Named groups keep their numbers.
    assert!(op("rx", "(?<n>a)(?'m'b)(?P<o>c)").matches(b"abc", Some(&mut caps)));
    assert_eq!(caps[3], b"c");
}

#[test]
fn rx_pattern_and_macros() {
    let rx = op("rx", "(?i)abc");
    assert_eq!(rx.rx_pattern(), Some("(?ms-u)(?i)abc"));
    assert!(!rx.needs_expansion());
    let set = regex::bytes::RegexSet::new([
        rx.rx_pattern().unwrap(),
        op("rx", "^x").rx_pattern().unwrap(),
    ]);
    assert_eq!(
        set.unwrap().matches(b"ABC").into_iter().collect::<Vec<_>>(),
        vec![0]
    );

    let rx = op("rx", "^%{tx.prefix}-");
    assert!(rx.needs_expansion() && rx.rx_pattern().is_none());
    assert!(rx.matches_expanded(b"ab-c", b"^a.-") && !rx.matches_expanded(b"ab-c", b"^b-"));
    assert!(
        !rx.matches_expanded(b"ab", b"(?=a)"),
        "bad expansion does not match"
    );
    assert!(
        op("rx", "%{tx.1}").matches(b"%{tx.1}", None),
        "unexpanded: as written"
    );
    assert_eq!(op("streq", "x").rx_pattern(), None);
}

#[test]
fn pm_phrases() {
    let pm = op("pm", "he she hers his");
    assert!(pm.matches(b"USHERS", None) && pm.matches(b"this", None));
    assert!(!pm.matches(b"hx", None) && !pm.matches(b"", None));
    let mut caps = Vec::new();
    assert!(pm.matches(b"xSHe", Some(&mut caps)));
    assert_eq!(caps, vec![b"SHe".to_vec()]);
    assert!(m("pm", "document.cookie <!--", b"x=DOCUMENT.COOKIE"));
    assert!(m("pm", "( )", b"f ("), "CRS `@pm ( )`");
    assert!(!m("pm", "", b"anything"), "no phrases never match");
    assert!(m("pm", "a|00|b", b"xa\0b"), "hex content");
    assert!(m("Pm", "  multiple   spaces\tand\ttabs ", b"TABS"));
}

#[test]
fn pm_from_file() {
    let dir = scratch("pmf");
    std::fs::write(
        dir.join("a.data"),
        "# comment\n\n   # indented comment\nfoo bar\r\nBaz\n  \n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/b.data"), "qux\n").unwrap();
    for name in ["pmFromFile", "pmf", "PMFROMFILE"] {
        let pm = Operator::compile(name, "a.data sub/b.data", &dir).unwrap();
        assert!(pm.matches(b"xFOO BARx", None), "a line is one phrase");
        assert!(!pm.matches(b"foo", None) && !pm.matches(b"comment", None));
        assert!(pm.matches(b"baz", None) && pm.matches(b"QUX", None));
        assert!(!pm.matches(b"  ", None), "blank lines are not phrases");
    }
    let abs = dir.join("sub/b.data");
    assert!(Operator::compile("pmf", abs.to_str().unwrap(), Path::new("/nonexistent")).is_ok());
    let e = Operator::compile("pmf", "missing.data", &dir)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing.data") && e.contains("@pmFromFile"),
        "{e}"
    );
    assert!(err("pmFromFile", "").contains("needs a file"));
    assert!(err("pmf", "https://example.com/x").contains("remote"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn crs_data_files_load() {
    let dir = &crs_rules();
    if !dir.is_dir() {
        eprintln!("SKIPPED: {} not found", dir.display());
        return;
    }
    let pm = Operator::compile("pmFromFile", "unix-shell.data", dir).unwrap();
    assert!(pm.matches(b"x=/BIN/BASH", None) && !pm.matches(b"hello", None));
    let pm = Operator::compile("pmFromFile", "restricted-files.data", dir).unwrap();
    assert!(pm.matches(b"/.git/config", None) && !pm.matches(b"/index.html", None));
}

#[test]
fn string_comparisons() {
    check(&op("streq", "POST"), b"POST", b"post|POSTX|");
    check(&op("streq", ""), b"|", b"x");
    check(&op("contains", "b.c"), b"ab.cd|b.c", b"abc|B.C|");
    check(&op("contains", ""), b"|x", b"");
    check(&op("strmatch", "ell"), b"hello", b"hELLo|");
    check(&op("beginsWith", "GET "), b"GET /|GET ", b"GE|get /|");
    check(&op("beginswith", ""), b"|x", b"");
    check(&op("endsWith", ".pdf"), b"a.pdf|.pdf", b"a.PDF|pdf|");
    check(&op("endsWith", ""), b"|x", b"");
    check(
        &op("within", "GET HEAD POST"),
        b"HEAD|T H||GET HEAD POST",
        b"PUT|get|GET HEAD POST X",
    );
    check(&op("within", ""), b"|", b"x");
}

#[test]
fn contains_word() {
    let cw = op("containsWord", "select");
    let yes = b"select|select * from|x select|1select2|(select)|a selectb select";
    check(&cw, yes, b"|selected|unselect|SELECT|xselectx");
    check(&op("containsword", ""), b"|abc", b"");
}

#[test]
fn numbers_parse_like_strtoll() {
    for (text, n) in [
        (&b"  12abc"[..], 12),
        (b"-3", -3),
        (b"+7", 7),
        (b"abc", 0),
        (b"", 0),
        (b"\t\n 5", 5),
        (b"- 5", 0),
        (b"0x10", 0),
        (b"99999999999999999999", i64::MAX),
        (b"-99999999999999999999", i64::MIN),
    ] {
        assert_eq!(parse_int(text), n, "{}", String::from_utf8_lossy(text));
    }
}

#[test]
fn numeric_comparisons() {
    assert!(m("eq", "5", b"5") && m("eq", "0", b"abc") && !m("eq", "5", b"6"));
    assert!(m("eq", "12", b"  12abc") && m("eq", "-3", b"-3"));
    assert!(m("ge", "5", b"5") && m("ge", "5", b"6") && !m("ge", "5", b"4"));
    assert!(m("gt", "5", b"6") && !m("gt", "5", b"5"));
    assert!(m("le", "5", b"5") && !m("le", "5", b"6"));
    assert!(m("lt", "5", b"4") && !m("lt", "5", b"5") && m("lt", "", b"-1"));

    let ge = op("ge", "%{tx.inbound_anomaly_score_threshold}");
    assert!(ge.needs_expansion());
    assert!(ge.matches_expanded(b"5", b"5") && !ge.matches_expanded(b"4", b"5"));
    assert!(op("lt", "%{tx.1}").matches_expanded(b"1", b"2"));
    let within = op("within", "%{tx.restricted_extensions}");
    assert!(within.needs_expansion());
    assert!(within.matches_expanded(b".bak/", b".asa/ .bak/ .backup/"));
    assert!(!within.matches_expanded(b".php/", b".asa/ .bak/"));
    assert!(op("streq", "%{TX.2}").matches_expanded(b"a", b"a"));
    assert!(!op("ge", "5").needs_expansion() && !op("pm", "%{x}").needs_expansion());
    assert!(
        op("pm", "a").matches_expanded(b"a", b"zzz"),
        "pm ignores expansion"
    );
}

#[test]
fn ip_match() {
    let ip = op(
        "ipMatch",
        "127.0.0.1, 10.0.0.0/8,::1,2001:db8::/32,192.168.1.77/24",
    );
    let yes = b"127.0.0.1|10.200.3.4|::1|2001:db8::abcd|192.168.1.1| 10.0.0.1 |::ffff:10.0.0.1";
    check(
        &ip,
        yes,
        b"127.0.0.2|11.0.0.1|::2|2001:db9::1||localhost|10.0.0.1:80",
    );
    check(&op("ipMatch", "0.0.0.0/0,::/0"), b"8.8.8.8|fe80::1", b"");
    assert!(err("ipMatch", "10.0.0.0/33").contains("10.0.0.0/33"));
    assert!(err("ipMatch", "999.1.1.1").contains("999.1.1.1"));
    assert!(err("ipMatch", "").contains("at least one"));

    let dir = scratch("ipf");
    std::fs::write(
        dir.join("ips.txt"),
        "# allow list\n10.1.0.0/16 # office\n\n2001:db8::1\n",
    )
    .unwrap();
    for name in ["ipMatchFromFile", "ipMatchF"] {
        let ip = Operator::compile(name, "ips.txt", &dir).unwrap();
        assert!(ip.matches(b"10.1.2.3", None) && ip.matches(b"2001:db8::1", None));
        assert!(!ip.matches(b"10.2.0.1", None));
    }
    std::fs::write(dir.join("bad.txt"), "10.0.0.0/8\nnot-an-ip\n").unwrap();
    let e = Operator::compile("ipMatchF", "bad.txt", &dir)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad.txt") && e.contains("not-an-ip"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn validate_byte_range() {
    check(&op("validateByteRange", "1-255"), b"a\0b|\0", b"|\x01\xff");
    let vbr = op("validateByteRange", "32,34,38,42-59,61,65-90,95,97-122");
    check(&vbr, b"a!b|\x80|{", b"abc XYZ_09=;");
    let vbr = op("validateByteRange", " 9, 10 ,13,32-126,128-255");
    check(&vbr, b"\x7f|\0", b"tab\there\r\n\xff");
    check(&op("validateByteRange", "0"), b"\x01", b"\0\0");
    let bad = [
        ("", "empty"),
        ("1-256", "256"),
        ("300", "300"),
        ("a-b", "`a`"),
    ];
    for (bad, why) in bad
        .into_iter()
        .chain([("9-1", "out of order"), ("1,,2", "empty")])
    {
        let e = err("validateByteRange", bad);
        assert!(
            e.contains(why) && e.contains("@validateByteRange"),
            "{bad:?}: {e}"
        );
    }
}

#[test]
fn validate_url_encoding() {
    let v = op("validateUrlEncoding", "");
    check(
        &v,
        b"%|%4|%zz|%4g|abc%|a%2|%%41|ok%41%|%\xff0",
        b"|%41|a%2fb%2F|plain text|%41%42|\xff%00",
    );
}

#[test]
fn validate_utf8_encoding() {
    // Overlong (2, 3, 4 bytes), surrogate, truncated, lone continuation,
    // above U+10FFFF, invalid byte, bad continuation.
    let bad = b"\xc0\xaf|\xe0\x80\xaf|\xf0\x80\x80\xaf|\xed\xa0\x80|\xc3|a\xe2\x82|\x80|\xf5\x80\x80\x80|\xff|\xc3(";
    let good = "|ascii|\u{e9}\u{20ac}\u{1f600}|\u{10ffff}|\u{d7ff}\u{e000}";
    check(&op("validateUtf8Encoding", ""), bad, good.as_bytes());
}

#[test]
fn fixed_operators_and_names() {
    assert!(m("unconditionalMatch", "", b"") && m("UNCONDITIONALMATCH", "x", b"y"));
    assert!(!m("noMatch", "", b"") && !m("nomatch", "", b"x"));
    assert_eq!(err("bogus", "x"), "unknown operator `@bogus`");
    assert_eq!(err("@bogus", "x"), "unknown operator `@bogus`");
    let mut caps = Vec::new();
    assert!(op("detectSQLi", "").matches(b"1' or '1'='1", Some(&mut caps)));
    assert_eq!(caps.len(), 1, "the fingerprint is TX:0");
    assert!(!m("detectSQLi", "", b"O'Reilly"));
    assert!(m("detectXSS", "", b"<script>alert(1)</script>"));
    assert!(!m("detectXSS", "", b"<b>bold</b>"));
    assert!(err("rsub", "s/a/b/").contains("not supported"));
    let mut caps = vec![b"x".to_vec()];
    assert!(op("streq", "a").matches(b"a", Some(&mut caps)) && caps.is_empty());
}

/// The `"@rx ...` arguments of the CRS rule files with file, line and id.
fn crs_rx_arguments(dir: &Path) -> Vec<(String, usize, String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.sort();
    let mut found = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut from = 0;
        while let Some(at) = text[from..].find("\"@rx ").map(|i| from + i) {
            let start = at + 5;
            let bytes = text.as_bytes();
            let mut end = start;
            while end < bytes.len() && bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            let end = end.min(bytes.len());
            let line = text[..at].matches('\n').count() + 1;
            found.push((
                name.clone(),
                line,
                rule_id(&text, at),
                text[start..end].to_string(),
            ));
            from = end;
        }
    }
    found
}

/// The id of the rule holding byte `at`: its own `id:`, or for a chained
/// rule, the id of the rule that starts the chain.
fn rule_id(text: &str, at: usize) -> String {
    let rule_start = text[..at].rfind("SecRule").unwrap_or(0);
    let next_rule = text[at..].find("SecRule").map_or(text.len(), |i| at + i);
    let id_in = |s: &str| {
        s.find("id:").map(|i| {
            s[i + 3..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect()
        })
    };
    id_in(&text[rule_start..next_rule])
        .or_else(|| text[..at].rfind("id:").and_then(|i| id_in(&text[i..])))
        .unwrap_or_else(|| "?".to_string())
}

#[test]
fn crs_rx_patterns_compile() {
    let dir = &crs_rules();
    if !dir.is_dir() {
        eprintln!("SKIPPED: {} not found", dir.display());
        return;
    }
    let patterns = crs_rx_arguments(dir);
    assert!(patterns.len() > 200, "found only {} @rx", patterns.len());
    let mut failures = Vec::new();
    for (file, line, id, pattern) in &patterns {
        if let Err(e) = Operator::compile("rx", pattern, dir) {
            failures.push(format!("{file}:{line}: rule {id}: {e}"));
        }
    }
    let ok = patterns.len() - failures.len();
    println!("CRS @rx: {ok}/{} compile", patterns.len());
    for f in &failures {
        println!("  FAILED {f}");
    }
    assert!(
        ok * 100 >= patterns.len() * 98,
        "{ok}/{}: {failures:#?}",
        patterns.len()
    );
}

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn text(&mut self, alphabet: &[&str], max: usize) -> String {
        (0..self.below(max + 1))
            .map(|_| alphabet[self.below(alphabet.len())])
            .collect()
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        (0..self.below(max + 1))
            .map(|_| self.next() as u8)
            .collect()
    }
}

#[test]
fn random_arguments_and_values_do_not_panic() {
    // Regex, list and IP fragments; whitespace tokens are added below.
    const TOKENS: &str = r"a Z 0 9 - , / \ [ ] ( ) { } ? * + | ^ $ . : # ! = < > ' P x Q E c o %
        %{ é (? [: :] [:alpha:] \x \x{ \Q \E (?x) (?i {2, 3} |41| 10.0.0.0/8 ::1 255 \0 \c && --";
    const NAMES: &str = "rx pm streq contains containsWord beginsWith endsWith within eq ge gt le
        lt ipMatch validateByteRange validateUrlEncoding validateUtf8Encoding unconditionalMatch
        noMatch strmatch pmf ipMatchF bogus";
    let mut tokens: Vec<&str> = TOKENS.split_whitespace().collect();
    tokens.extend([" ", "\n", "\t"]);
    let names: Vec<&str> = NAMES.split_whitespace().collect();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut compiled = 0;
    for _ in 0..10_000 {
        // Half of the time `@rx`: its translator has the most paths.
        let name = match rng.below(2) {
            0 => "rx",
            _ => names[rng.below(names.len())],
        };
        let arg = rng.text(&tokens, 12);
        let Ok(op) = Operator::compile(name, &arg, Path::new("/nonexistent")) else {
            continue;
        };
        compiled += 1;
        let mut caps = Vec::new();
        for _ in 0..4 {
            let value = if rng.below(2) == 0 {
                rng.bytes(24)
            } else {
                rng.text(&tokens, 8).into_bytes()
            };
            op.matches(&value, None);
            op.matches(&value, Some(&mut caps));
            op.matches_expanded(&value, rng.text(&tokens, 8).as_bytes());
            op.matches_expanded(&value, &rng.bytes(12));
            let _ = op.needs_expansion();
            let _ = op.rx_pattern();
        }
    }
    println!("{compiled} of 10000 random operators compiled");
    assert!(compiled > 3_000, "only {compiled} compiled");
}
