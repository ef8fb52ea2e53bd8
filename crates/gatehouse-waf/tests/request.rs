//! The request variables as libmodsecurity v3 sets them: URI and query
//! parsing, the JSON and multipart body processors with their flags,
//! limits, and a no-panic sweep. Cookie, Content-Type and processor tables
//! are unit tests in `src/request/`.
#![allow(clippy::unwrap_used)]

use gatehouse_waf::request::{BodyProcessor, Limits, MultipartFlags, RequestInput, RequestVars};
use BodyProcessor as B;

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts a collection's pairs.
#[track_caller]
fn eq(got: &[(Vec<u8>, Vec<u8>)], want: &[(&str, &str)]) {
    let got: Vec<(String, String)> = got.iter().map(|(n, v)| (s(n), s(v))).collect();
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, want);
}

/// Limits with some fields changed.
fn lim(f: impl FnOnce(&mut Limits)) -> Limits {
    let mut l = Limits::default();
    f(&mut l);
    l
}

fn run(uri: &str, hdrs: &[(&str, &str)], body: &[u8], p: B, limits: &Limits) -> RequestVars {
    let hs: Vec<(&[u8], &[u8])> = hdrs
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    let input = RequestInput {
        method: "POST",
        uri: uri.as_bytes(),
        protocol: "HTTP/1.1",
        headers: &hs,
        remote_addr: "10.0.0.1",
        remote_port: 5555,
        body: Some(body),
    };
    RequestVars::build(&input, p, limits)
}

/// `body` under Content-Type `ct`, default limits.
fn with_ct(ct: &str, body: &[u8], p: B) -> RequestVars {
    run("/", &[("Content-Type", ct)], body, p, &Limits::default())
}

fn get(uri: &str) -> RequestVars {
    run(uri, &[], b"", B::None, &Limits::default())
}

fn json_with(body: &str, limits: &Limits) -> RequestVars {
    let h = [("Content-Type", "application/json")];
    run("/", &h, body.as_bytes(), B::Json, limits)
}

fn json(body: &str) -> RequestVars {
    json_with(body, &Limits::default())
}

const CT: &str = "multipart/form-data; boundary=XyZ";
const CD: &str = "Content-Disposition: form-data; name=\"a\"";

fn mp_with(ct: &str, body: &str, limits: &Limits) -> RequestVars {
    run(
        "/up",
        &[("Content-Type", ct)],
        body.as_bytes(),
        B::Multipart,
        limits,
    )
}

fn mp(body: &str) -> RequestVars {
    mp_with(CT, body, &Limits::default())
}

/// A well-formed one-field body with CRLF lines: `a` = `1`.
fn ok_body() -> String {
    format!("--XyZ\r\n{CD}\r\n\r\n1\r\n--XyZ--\r\n")
}

#[test]
fn query_repeated_empty_plus_bad_percent() {
    let v = get("/p?a=1&a=2&b=&c&d=x+y&e=%41%zz%4&f=1;g=2&&=v&h=a=b&");
    #[rustfmt::skip]
    let want = [("a", "1"), ("a", "2"), ("b", ""), ("c", ""), ("d", "x y"), ("e", "A%zz%4"),
        ("f", "1;g=2"), ("", ""), ("", "v"), ("h", "a=b")];
    eq(&v.args_get, &want);
    assert!(v.urlencoded_error);
    assert!(!get("/p?a=%41+").urlencoded_error);
    assert!(get("/p?").args_get.is_empty());
    assert!(get("/p").query_string.is_empty());
    // Names are decoded too, and the fragment is not part of the query.
    eq(&get("/?%61+b=1#x=2").args_get, &[("a b", "1")]);
}

#[test]
fn every_variable_on_a_sample_request() {
    let headers = [
        ("Host", "example.com"),
        ("Cookie", "sid=abc; theme=dark"),
        ("content-type", "application/x-www-form-urlencoded"),
        ("User-Agent", "curl/8"),
    ];
    let uri = "/app/x%20y/login.php?user=al+ice&pw=%27x&flag#frag";
    let body = b"a=1&b=%3Cs%3E";
    let v = run(uri, &headers, body, B::UrlEncoded, &Limits::default());
    assert_eq!(s(&v.request_method), "POST");
    assert_eq!(s(&v.request_protocol), "HTTP/1.1");
    assert_eq!(s(&v.request_line), format!("POST {uri} HTTP/1.1"));
    assert_eq!(s(&v.request_uri_raw), uri);
    assert_eq!(
        s(&v.request_uri),
        "/app/x y/login.php?user=al+ice&pw='x&flag"
    );
    assert_eq!(s(&v.request_filename), "/app/x y/login.php");
    assert_eq!(s(&v.request_basename), "login.php");
    assert_eq!(s(&v.query_string), "user=al+ice&pw=%27x&flag");
    eq(
        &v.args_get,
        &[("user", "al ice"), ("pw", "'x"), ("flag", "")],
    );
    eq(&v.args_post, &[("a", "1"), ("b", "<s>")]);
    assert!(v.args_json.is_empty());
    let args: Vec<String> = v.args().map(|(n, _)| s(n)).collect();
    assert_eq!(args, ["user", "pw", "flag", "a", "b"]);
    assert_eq!(v.args_combined_size, 10 + 4 + 4 + 2 + 4);
    assert_eq!(v.request_headers.len(), 4);
    assert_eq!(v.header(b"HOST"), Some(&b"example.com"[..]));
    assert_eq!(v.header(b"X-Missing"), None);
    let names: Vec<String> = v.request_headers_names().map(s).collect();
    assert_eq!(names, ["Host", "Cookie", "content-type", "User-Agent"]);
    eq(&v.request_cookies, &[("sid", "abc"), ("theme", "dark")]);
    assert_eq!(
        (v.request_body.as_slice(), v.request_body_length),
        (&body[..], 13)
    );
    assert_eq!(v.reqbody_processor, "URLENCODED");
    assert!(!v.reqbody_error && !v.reqbody_processor_error && !v.inbound_data_error);
    assert!(!v.urlencoded_error && !v.args_overflow && v.xml.is_none());
    assert!(v.files.is_empty() && v.files_sizes.is_empty() && v.files_combined_size == 0);
    assert_eq!(v.multipart, MultipartFlags::default());
    assert_eq!((v.remote_addr.as_str(), v.remote_port), ("10.0.0.1", 5555));
    let full = s(&v.full_request());
    assert!(full.starts_with("Host: example.com\nCookie: sid=abc; theme=dark\n"));
    assert!(full.ends_with("User-Agent: curl/8\n\n\na=1&b=%3Cs%3E"));
    // Every Cookie header counts.
    let h = [("Cookie", "a=1"), ("cookie", "b=2")];
    eq(
        &run("/", &h, b"", B::None, &Limits::default()).request_cookies,
        &[("a", "1"), ("b", "2")],
    );
}

#[test]
fn uri_shapes() {
    let v = get("http://h.example:8080/a/%2e%2e/b%5cc.php?q=%20#f");
    assert_eq!(s(&v.request_uri), "/a/../b\\c.php?q= ");
    assert_eq!(
        s(&v.request_filename),
        "http://h.example:8080/a/../b\\c.php"
    );
    assert_eq!(s(&v.request_basename), "c.php");
    assert!(get("/dir/").request_basename.is_empty());
    assert!(get("*").request_basename.is_empty());
    assert_eq!(s(&get("/%zz%").request_uri), "/%zz%");
    assert_eq!(s(&get("/a+b").request_filename), "/a+b");
}

#[test]
fn json_flattening() {
    let body = r#"{"a":{"b":1},"c":[true,false,null],"d":"x\u00e9\ud83d\ude00\n\/","e":-1.5e3,
        "":"k","f":[],"g":{}}"#;
    let v = json(body);
    assert!(!v.reqbody_error, "{}", v.reqbody_error_msg);
    #[rustfmt::skip]
    let want = [("json.a.b", "1"), ("json.c.array_0", "true"), ("json.c.array_1", "false"),
        ("json.c.array_2", ""), ("json.d", "xé😀\n/"), ("json.e", "-1.5e3"), ("json.empty-key", "k")];
    eq(&v.args_json, &want);
    // v3 keeps JSON arguments in ARGS only (ModSecurity PR #2058).
    assert!(v.args_post.is_empty());
    assert_eq!(v.args().count(), 7);
    assert_eq!(v.reqbody_processor, "JSON");
    let nested = [
        ("json.array_0.array_0", "1"),
        ("json.array_0.array_1", "2"),
        ("json.array_1.array_0", "3"),
    ];
    eq(&json("[[1,2],[3]]").args_json, &nested);
    let objs = [("json.array_0.a", "1"), ("json.array_1.a", "2")];
    eq(&json(r#"[{"a":1},{"a":"2"}]"#).args_json, &objs);
    eq(&json(" \"hi\" ").args_json, &[("json", "hi")]);
    eq(&json("0").args_json, &[("json", "0")]);
}

#[test]
fn json_string_escapes_as_yajl() {
    let one = |body: &[u8]| {
        let v = with_ct("application/json", body, B::Json);
        assert!(!v.reqbody_error, "{}: {}", s(body), v.reqbody_error_msg);
        v.args_json[0].1.clone()
    };
    assert_eq!(one(br#"["\ud800x"]"#), b"?x");
    assert_eq!(one(br#"["\udc00"]"#), b"\xed\xb0\x80");
    assert_eq!(one(br#"["a\u0000b"]"#), b"a\0b");
    assert_eq!(one(br#"["\"\\\b\f\r\t"]"#), b"\"\\\x08\x0c\r\t");
    assert_eq!(one("[\"é😀\"]".as_bytes()), "é😀".as_bytes());
    // yajl checks lead and continuation bytes only: overlong forms pass.
    assert_eq!(one(b"[\"\xc0\xaf\"]"), b"\xc0\xaf");
    assert!(with_ct("application/json", b"[\"\xff\"]", B::Json).reqbody_error);
}

#[test]
fn json_errors() {
    let bodies = "{\"a\":1,}|{\"a\" 1}|{1:2}|[1 2]|{\"a\":tru}|\"abc|[\"\u{1}\"]|01|1 2| \t\n|\
        {\"a\":\"\\q\"}|/**/{}|NaN|[1,]|[-]|[1.]|[1e]|{\"a\":[}|]|[\"\\u12g4\"]|{\"a\":1}}|'a'";
    for body in bodies.split('|') {
        let v = json(body);
        assert!(
            v.reqbody_error && v.reqbody_processor_error,
            "{body:?} parsed"
        );
        let msg = &v.reqbody_error_msg;
        assert!(msg.starts_with("JSON parsing error: "), "{msg}");
        assert_eq!(msg, &v.reqbody_processor_error_msg);
    }
    // Arguments found before the error stay, as with v3's streaming parser.
    eq(&json("{\"a\":1,}").args_json, &[("json.a", "1")]);
    // An empty body is no error in v3.
    assert!(!json("").reqbody_error);
}

#[test]
fn json_depth_limit() {
    // ModSecurity regression test request-body-parser-json.json.
    let body = r#"{"key1":{"key2":{"key3":{"key4":{"key5":"thevalue"}}}}}"#;
    let ok = json_with(body, &lim(|l| l.json_depth = 5));
    assert!(!ok.reqbody_error);
    eq(
        &ok.args_json,
        &[("json.key1.key2.key3.key4.key5", "thevalue")],
    );
    let v = json_with(body, &lim(|l| l.json_depth = 4));
    assert!(v.reqbody_error && v.reqbody_error_msg.contains("depth limit exceeded"));
    // Deep nesting costs no native stack.
    let deep = "[".repeat(100_000);
    assert!(json(&deep)
        .reqbody_error_msg
        .contains("depth limit exceeded"));
    let huge = lim(|l| {
        l.json_depth = usize::MAX;
        l.max_body_no_files = usize::MAX;
    });
    let v = json_with(&deep, &huge);
    assert!(v.reqbody_error && v.reqbody_error_msg.contains("premature EOF"));
}

#[test]
fn argument_limits() {
    let two = lim(|l| l.max_args = 2);
    let v = run("/?a=1&b=2&c=3", &[], b"", B::None, &two);
    eq(&v.args_get, &[("a", "1"), ("b", "2")]);
    assert!(v.args_overflow);
    // The limit counts ARGS: query and body together.
    let h = [("Content-Type", "application/x-www-form-urlencoded")];
    let v = run("/?a=1", &h, b"b=2&c=3", B::UrlEncoded, &two);
    assert_eq!(
        (v.args_get.len(), v.args_post.len(), v.args_overflow),
        (1, 1, true)
    );
    // JSON over the limit cancels the parse, as yajl's callback does in v3.
    let v = json_with("[1,2,3]", &two);
    assert_eq!(v.args_json.len(), 2);
    assert!(v.args_overflow && v.reqbody_error && v.reqbody_error_msg.contains("cancelled"));
    let body = format!("--XyZ\r\n{CD}\r\n\r\n1\r\n--XyZ\r\n{CD}\r\n\r\n2\r\n--XyZ--\r\n");
    let v = mp_with(CT, &body, &lim(|l| l.max_args = 1));
    assert_eq!((v.args_post.len(), v.args_overflow), (1, true));
    // JSON names repeat their path: the combined size bounds the blow-up.
    let small = lim(|l| l.max_args_combined_size = 70);
    let v = json_with(&format!("{{\"{}\":[1,1,1,1,1,1]}}", "k".repeat(20)), &small);
    assert!(v.args_overflow && v.args_combined_size == 68 && v.args_json.len() == 2);
}

#[test]
fn body_limits() {
    let form = |body: &[u8], l: Limits| {
        let h = [("Content-Type", "application/x-www-form-urlencoded")];
        run("/", &h, body, B::UrlEncoded, &l)
    };
    let v = form(b"a=1&b=2&c=3", lim(|l| l.max_body = 5));
    let body = (v.request_body.as_slice(), v.request_body_length);
    assert_eq!(body, (&b"a=1&b"[..], 5));
    assert!(v.inbound_data_error && !v.reqbody_error);
    eq(&v.args_post, &[("a", "1"), ("b", "")]);
    let v = form(b"a=1&b=2", lim(|l| l.max_body_no_files = 4));
    assert!(v.reqbody_error && v.inbound_data_error && !v.reqbody_processor_error);
    let msg = "Request body excluding files is bigger than the maximum expected.";
    assert_eq!(v.reqbody_error_msg, msg);
    assert!(v.args_post.is_empty());
    let v = mp_with(CT, &ok_body(), &lim(|l| l.max_body_no_files = 20));
    assert!(v.reqbody_error && v.reqbody_error_msg == msg);
}

#[test]
fn multipart_fields_and_files() {
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nalice\r\n\
        --XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nline1\r\nline2\r\n\
        --XyZ\r\nContent-Disposition: form-data; name=\"up\"; filename=\"a.php\"\r\n\
        Content-Type: application/octet-stream\r\n\r\n<?php echo 1; ?>\r\n\
        --XyZ\r\ncontent-disposition: form-data; name=\"empty\"; filename=\"\"\r\n\r\n\r\n\
        --XyZ\r\nContent-Disposition: form-data; name=\"bin\"; filename=\"b.bin\"\r\n\r\n\r\n\n\r\n\
        --XyZ--\r\n";
    let v = mp(body);
    assert!(!v.reqbody_error, "{}", v.reqbody_error_msg);
    assert_eq!(v.reqbody_processor, "MULTIPART");
    // An empty filename makes a field, as in v3.
    eq(
        &v.args_post,
        &[("user", "alice"), ("note", "line1\r\nline2"), ("empty", "")],
    );
    eq(&v.files, &[("up", "a.php"), ("bin", "b.bin")]);
    assert_eq!(
        v.files_sizes,
        vec![(b"up".to_vec(), 16), (b"bin".to_vec(), 3)]
    );
    assert_eq!(v.files_combined_size, 19);
    let ph = &v.multipart_part_headers;
    assert_eq!(ph.len(), 6);
    let first = b"Content-Disposition: form-data; name=\"user\"";
    assert_eq!(ph[0], (b"user".to_vec(), first.to_vec()));
    assert!(ph.contains(&(
        b"up".to_vec(),
        b"Content-Type: application/octet-stream".to_vec()
    )));
    let want = MultipartFlags {
        unmatched_boundary: 2,
        ..MultipartFlags::default()
    };
    assert_eq!(v.multipart, want);
    // The request body is there for every processor, as in v3.
    assert_eq!(v.request_body, body.as_bytes());
}

/// Runs `body` under `ct` and returns the flags, asserting no body error.
#[track_caller]
fn flags_ok(ct: &str, body: &str) -> MultipartFlags {
    let v = mp_with(ct, body, &Limits::default());
    assert!(!v.reqbody_error, "{body:?}: {}", v.reqbody_error_msg);
    v.multipart
}

#[test]
fn multipart_flags_one_by_one() {
    let ok = ok_body();
    assert!(!flags_ok(CT, &ok).strict_error);
    let f = flags_ok("multipart/form-data; boundary=\"XyZ\"", &ok);
    assert!(f.boundary_quoted && f.strict_error);
    let f = flags_ok("multipart/form-data; boundary =XyZ", &ok);
    assert!(f.boundary_whitespace && f.strict_error);
    let f = flags_ok(
        "multipart/form-data; boundary= XyZ",
        &ok.replace("--XyZ", "-- XyZ"),
    );
    assert!(f.boundary_whitespace);
    let f = flags_ok("multipart/form-data boundary=XyZ", &ok);
    assert!(f.missing_semicolon && f.strict_error);
    let f = flags_ok(CT, &format!("preamble\r\n{ok}"));
    assert!(f.data_before && f.strict_error);
    let f = flags_ok(CT, &format!("{ok}epilogue"));
    assert!(f.data_after && f.strict_error);
    let folded = "--XyZ\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\n1\r\n--XyZ--\r\n";
    let v = mp(folded);
    let f = v.multipart;
    assert!(f.header_folding && !f.invalid_header_folding && f.strict_error);
    eq(&v.args_post, &[("a", "1")]);
    eq(&v.multipart_part_headers, &[("a", CD)]);
    let f = flags_ok(CT, &folded.replace("\r\n name", "\r\n\x0bname"));
    assert!(f.header_folding && f.invalid_header_folding);
    let f = flags_ok(CT, &ok.replace("\r\n", "\n"));
    assert!(f.lf_line && !f.crlf_lf_lines && f.strict_error);
    let f = flags_ok(CT, &ok.replace("\"a\"\r\n", "\"a\"\n"));
    assert!(f.lf_line && f.crlf_lf_lines);
    // A bare LF before a boundary counts too.
    assert!(flags_ok(CT, &ok.replace("1\r\n", "1\n")).lf_line);
    let f = flags_ok(CT, &ok.replace("\"a\"", "'a'"));
    assert!(f.invalid_quoting && f.strict_error);
    assert!(flags_ok(CT, &ok.replace("\"a\"", "a'b")).invalid_quoting);
    // Headers, then straight to the final boundary: no part data.
    let v = mp(&format!("--XyZ\r\n{CD}\r\n\r\n--XyZ--"));
    assert!(v.multipart.invalid_part && v.multipart.strict_error && !v.reqbody_error);
    let f = flags_ok(CT, &ok.replace("\r\n1\r\n", "\r\n1 --XyZ 2\r\n"));
    assert!(f.unmatched_boundary == 1 && !f.strict_error);
    assert_eq!(
        flags_ok(CT, &ok.replace("\r\n1\r\n", "\r\n--XyW\r\n")).unmatched_boundary,
        1
    );
    let file =
        |n: &str| format!("--XyZ\r\n{CD}; filename=\"{n}\"\r\n\r\nx\r\n").replace("\"a\"", n);
    let two_files = format!("{}{}--XyZ--\r\n", file("f"), file("g"));
    let v = mp_with(CT, &two_files, &lim(|l| l.max_files = 1));
    assert!(v.multipart.file_limit_exceeded && v.multipart.strict_error && v.reqbody_error);
    eq(&v.files, &[("f", "f"), ("g", "g")]);
    // The final boundary may end the body without a line end.
    assert!(!flags_ok(CT, ok.trim_end()).strict_error);
}

/// Runs `body` and returns the error message, asserting strict error.
#[track_caller]
fn mp_err(ct: &str, body: &str) -> String {
    let v = mp_with(ct, body, &Limits::default());
    let msg = v.reqbody_error_msg;
    assert!(
        v.reqbody_error && v.reqbody_processor_error && v.multipart.strict_error,
        "{msg}"
    );
    assert!(
        msg.starts_with("Multipart parsing error: Multipart: "),
        "{msg}"
    );
    msg
}

#[test]
fn multipart_errors() {
    let ok = ok_body();
    // Content-Type errors (the full table is a unit test).
    assert!(mp_err("multipart/form-data", &ok).contains("Boundary not found"));
    let v = run("/", &[], ok.as_bytes(), B::Multipart, &Limits::default());
    assert!(v
        .reqbody_error_msg
        .contains("Content-Type header not available"));
    let q = "multipart/form-data; boundary=\"XyZ\"";
    assert!(mp_err(q, &ok.replace("--XyZ\r\n", "--\"XyZ\"\r\n")).contains("(quotes)"));
    #[rustfmt::skip]
    let cases = [
        ("hello\r\n".to_owned(), "No boundaries found"),
        (ok.replace("--XyZ--\r\n", ""), "Final boundary missing"),
        (ok.replace("--XyZ--", "--XyZ-- x"), "Invalid boundary (trailing"),
        (ok.replace("--XyZ\r\n", "-- XyZ\r\n"), "(whitespace)"),
        (ok.replace(CD, &format!("{CD}\r\n{CD}")), "Duplicate part header: Content-Disposition."),
        (ok.replace(CD, "Content-Type: text/plain"), "missing Content-Disposition"),
        (ok.replace("name=\"a\"", "filename=\"x\""), "missing name"),
        (ok.replace("form-data", "attachment"), "Content-Disposition header (-1)"),
        (ok.replace("name=", "filename*=utf-8''x; name="), "(-21)"),
        (ok.replace("name=\"a\"", "name=\"a\"; filename =\"x\""), "(filename)"),
        (ok.replace(CD, &format!("{CD}\r\nBad Name: x")), "invalid character"),
        (ok.replace(CD, &format!("{CD}\r\nNoColon")), "colon missing"),
        (ok.replace(CD, &format!("{CD}\r\n: x")), "header name missing"),
        (ok.replace(CD, &format!("{CD}\r\nX-A: a\0b")), "Nul byte"),
        (ok.replace(CD, &format!("{CD}\r\nX-A: {}", "a".repeat(5000))), "over 4096"),
        (ok.replace(CD, &format!(" folded\r\n{CD}")), "folding error"),
    ];
    for (body, msg) in cases {
        let got = mp_err(CT, &body);
        assert!(got.contains(msg), "{body:?}: {got}");
    }
    // Parts completed before an error are kept.
    let dup = ok.replace(CD, &format!("{CD}\r\n{CD}"));
    let v = mp(&format!("{}{dup}", ok.replace("--XyZ--\r\n", "")));
    assert!(v.reqbody_error);
    eq(&v.args_post, &[("a", "1")]);
    let many = format!(
        "{}--XyZ--\r\n",
        format!("--XyZ\r\n{CD}\r\n\r\n1\r\n").repeat(3)
    );
    let v = mp_with(CT, &many, &lim(|l| l.max_parts = 2));
    assert!(v.reqbody_error_msg.contains("Too many parts"));
    assert_eq!(v.args_post.len(), 2);
    let v = mp("");
    assert!(!v.reqbody_error && v.args_post.is_empty());
}

#[test]
fn processor_state() {
    // v3 names URLENCODED and MULTIPART from the header; others need a ctl.
    let hs: [(&[u8], &[u8]); 1] = [(b"Content-Type", CT.as_bytes())];
    let input = RequestInput {
        method: "POST",
        uri: b"/",
        protocol: "HTTP/2",
        headers: &hs,
        remote_addr: "::1",
        remote_port: 1,
        body: None,
    };
    let mut v = RequestVars::new(&input, &Limits::default());
    assert_eq!(v.reqbody_processor, "MULTIPART");
    v.process_body(Some(ok_body().as_bytes()), B::Multipart, &Limits::default());
    eq(&v.args_post, &[("a", "1")]);
    let v = with_ct("application/json", b"{}", B::None);
    assert_eq!(
        (v.reqbody_processor, v.request_body.as_slice()),
        ("", &b"{}"[..])
    );
    let v = with_ct("text/xml", b"<a>1</a>", B::Xml);
    let xml = v.xml.clone().unwrap_or_default();
    assert_eq!(xml.text, b"1");
    assert!(v.args().next().is_none() && !v.reqbody_error);
    assert_eq!(v.reqbody_processor, "XML");
}

/// xorshift64*: reproducible noise without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Random bytes mixed with pieces of `alphabet` (`|`-separated).
    fn body(&mut self, alphabet: &[u8]) -> Vec<u8> {
        let pieces: Vec<&[u8]> = alphabet.split(|&c| c == b'|').collect();
        let mut out = Vec::new();
        for _ in 0..self.below(60) {
            if self.below(4) == 0 {
                out.push(self.next() as u8);
            } else {
                out.extend_from_slice(pieces[self.below(pieces.len())]);
            }
        }
        out
    }
}

#[test]
fn random_bodies_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let json_pieces =
        b"{|}|[|]|\"|:|,|\\|\\u|d83d|\\ude00|0|-1.5e3|true|null|\"k\"| |\xff|\xc3\xa9";
    let mp_pieces = b"--XyZ|--XyZ--|\r\n|\n|Content-Disposition: form-data; name=\"a\"|\
        ; filename=\"f\"|Content-Type: x| |\x0b|'|\"|x|\0|:|filename*=utf-8''a%41";
    let url_pieces = b"&|=|%|%4|%41|+|;|a|#|?|/|\\";
    let tight = lim(|l| {
        l.max_args = 5;
        l.json_depth = 4;
        l.max_files = 1;
        l.max_parts = 3;
        l.max_args_combined_size = 50;
    });
    let cts = [
        CT,
        "multipart/form-data; boundary=\"XyZ\"",
        "multipart/form-data boundary = XyZ;x",
    ];
    for round in 0..4000 {
        let limits = if round % 2 == 0 {
            Limits::default()
        } else {
            tight.clone()
        };
        let v = run("/", &[], &rng.body(json_pieces), B::Json, &limits);
        assert!(v.args().count() <= limits.max_args);
        let ct = cts[rng.below(cts.len())];
        let v = run(
            "/",
            &[("Content-Type", ct)],
            &rng.body(mp_pieces),
            B::Multipart,
            &limits,
        );
        assert!(!v.reqbody_error || v.multipart.strict_error || v.inbound_data_error);
        let ub = rng.body(url_pieces);
        let uri = format!("/{}", s(&ub));
        let cookie = s(&rng.body(b";|=| |a|\t"));
        let h = [
            ("Cookie", cookie.as_str()),
            ("Content-Type", "multipart/form-data; boundary="),
        ];
        let v = run(&uri, &h, &ub, B::UrlEncoded, &limits);
        assert!(v.args().count() <= limits.max_args);
        let raw = rng.body(b"");
        for p in [B::Json, B::Multipart, B::Xml, B::None] {
            run("/", &[("Content-Type", CT)], &raw, p, &limits);
        }
    }
}

#[test]
fn large_upload_is_linear() {
    let data = "-".repeat(1 << 20);
    let body = format!("--XyZ\r\n{CD}; filename=\"big\"\r\n\r\n{data}\r\n--XyZ--\r\n");
    let v = mp(&body);
    assert!(!v.reqbody_error, "{}", v.reqbody_error_msg);
    assert_eq!(v.files_sizes, vec![(b"a".to_vec(), 1 << 20)]);
}
