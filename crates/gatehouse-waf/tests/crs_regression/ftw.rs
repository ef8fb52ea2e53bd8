//! Requests as go-ftw builds them from the suite's YAML (see `main.rs`).

use base64::Engine as _;
use std::fmt::Write as _;
use std::path::Path;
use yaml_rust2::{Yaml, YamlLoader};

/// One request of a test.
pub struct Stage {
    /// The suite expects the HTTP server itself to answer 400, so no rule
    /// can log (`no_expect_ids` hold trivially): not run.
    pub refused: bool,
    pub method: String,
    pub uri: Vec<u8>,
    pub version: String,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Option<Vec<u8>>,
    pub expect: Vec<u64>,
    pub no_expect: Vec<u64>,
}

impl Stage {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v.as_slice())
    }

    /// The request line and Content-Type, shortened, for a hint.
    pub fn summary(&self) -> String {
        let mut uri = String::from_utf8_lossy(&self.uri).into_owned();
        if uri.chars().count() > 90 {
            uri = uri.chars().take(90).collect::<String>() + "…";
        }
        let mut s = format!("`{} {} {}`", self.method, uri, self.version);
        if let Some(ct) = self.header("content-type") {
            let _ = write!(s, " Content-Type `{}`", String::from_utf8_lossy(ct));
        }
        if let Some(b) = &self.body {
            let _ = write!(s, " body {} bytes", b.len());
        }
        s
    }
}

pub struct Case {
    pub rule: u64,
    pub test: u32,
    pub stages: Vec<Stage>,
}

pub fn text(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn ids(y: &Yaml) -> Vec<u64> {
    match y {
        Yaml::Array(a) => a
            .iter()
            .filter_map(Yaml::as_i64)
            .map(|i| i as u64)
            .collect(),
        Yaml::Integer(i) => vec![*i as u64],
        _ => Vec::new(),
    }
}

/// The one Go template function the suite's `data` uses (go-ftw renders
/// `data` as a text/template with sprig): `{{ "x" | repeat N }}`.
pub fn render(data: &str) -> String {
    let re = regex::Regex::new(r#"\{\{\s*"([^"]*)"\s*\|\s*repeat\s+(\d+)\s*\}\}"#).unwrap();
    re.replace_all(data, |c: &regex::Captures| {
        c[1].repeat(c[2].parse().unwrap())
    })
    .into_owned()
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`.
pub fn query_escape(s: &[u8]) -> String {
    let mut out = String::new();
    for &b in s {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// go-ftw's `encodeDataParameters`: a form body that `url.QueryUnescape`
/// leaves unchanged (no `%`, no `+`) has each name and value escaped.
pub fn encode_form(data: &[u8]) -> Vec<u8> {
    if data.contains(&b'%') || data.contains(&b'+') {
        return data.to_vec();
    }
    data.split(|&b| b == b'&')
        .map(|pair| match pair.iter().position(|&b| b == b'=') {
            Some(i) => format!(
                "{}={}",
                query_escape(&pair[..i]),
                query_escape(&pair[i + 1..])
            ),
            None => query_escape(pair),
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// A raw request (`encoded_request`): request line, headers, body.
pub fn parse_raw(raw: &[u8], stage: &mut Stage) {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (head, body) = match split {
        Some((i, n)) => (&raw[..i], &raw[i + n..]),
        None => (raw, &b""[..]),
    };
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    if let Some(line) = lines.next() {
        let parts: Vec<&[u8]> = line.splitn(3, |&b| b == b' ').collect();
        if let [m, u, v] = parts.as_slice() {
            stage.method = String::from_utf8_lossy(m).into_owned();
            stage.uri = u.to_vec();
            stage.version = String::from_utf8_lossy(v).into_owned();
        }
    }
    stage.headers = lines
        .filter_map(|l| {
            let i = l.iter().position(|&b| b == b':')?;
            Some((l[..i].to_vec(), l[i + 1..].trim_ascii().to_vec()))
        })
        .collect();
    stage.body = (!body.is_empty()).then(|| body.to_vec());
}

pub fn stage(input: &Yaml, output: &Yaml) -> Stage {
    let get = |k: &str| text(&input[k]);
    let log = &output["log"];
    let mut expect = ids(&log["expect_ids"]);
    expect.extend(ids(&log["expect_id"]));
    let mut no_expect = ids(&log["no_expect_ids"]);
    no_expect.extend(ids(&log["no_expect_id"]));
    let status = match &output["status"] {
        Yaml::Array(a) => a.iter().filter_map(Yaml::as_i64).collect(),
        y => y.as_i64().into_iter().collect::<Vec<_>>(),
    };
    let mut s = Stage {
        refused: status == [400] && expect.is_empty(),
        method: get("method").unwrap_or_else(|| "GET".into()),
        uri: get("uri").unwrap_or_else(|| "/".into()).into_bytes(),
        version: get("version").unwrap_or_else(|| "HTTP/1.1".into()),
        headers: Vec::new(),
        body: get("data")
            .map(|d| render(&d).into_bytes())
            .filter(|d| !d.is_empty()),
        expect,
        no_expect,
    };
    if let Yaml::Hash(h) = &input["headers"] {
        for (k, v) in h {
            // The HTTP server hands values on without the optional
            // whitespace around them.
            if let (Some(k), Some(v)) = (text(k), text(v)) {
                s.headers
                    .push((k.into_bytes(), v.trim().as_bytes().to_vec()));
            }
        }
    }
    if let Some(enc) = get("encoded_request") {
        // Sent byte for byte: go-ftw completes nothing in a raw request.
        let clean: String = enc.chars().filter(|c| !c.is_whitespace()).collect();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(clean)
            .unwrap();
        parse_raw(&raw, &mut s);
        return s;
    }
    let auto = !matches!(input["autocomplete_headers"], Yaml::Boolean(false));
    if let Some(body) = s.body.take_if(|_| auto) {
        if s.header("content-type").is_none() {
            s.headers.push((
                b"Content-Type".to_vec(),
                b"application/x-www-form-urlencoded".to_vec(),
            ));
        }
        let form = s.headers.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case(b"content-type")
                && v.eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
        });
        s.body = Some(if form { encode_form(&body) } else { body });
    }
    let multipart = s.headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case(b"content-type")
            && v.to_ascii_lowercase()
                .windows(20)
                .any(|w| w == b"multipart/form-data;")
    });
    if let (true, Some(body)) = (multipart, &s.body) {
        let mut crlf = Vec::with_capacity(body.len() + body.len() / 16);
        for &b in body {
            if b == b'\n' {
                crlf.push(b'\r');
            }
            crlf.push(b);
        }
        s.body = Some(crlf);
    }
    if auto {
        if s.header("connection").is_none() {
            s.headers.push((b"Connection".to_vec(), b"close".to_vec()));
        }
        // go-ftw's `^POST|PUT|PATCH|DELETE$`, precedence included.
        let m = &s.method;
        let bodied = m.starts_with("POST")
            || m.contains("PUT")
            || m.contains("PATCH")
            || m.ends_with("DELETE");
        // go-ftw adds it even beside a Transfer-Encoding; the server then
        // drops it (Apache: "both present; dropping Content-Length"), so
        // the WAF never sees the pair.
        if s.header("content-length").is_none()
            && s.header("transfer-encoding").is_none()
            && (s.body.is_some() || bodied)
        {
            let len = s.body.as_ref().map_or(0, Vec::len);
            s.headers
                .push((b"Content-Length".to_vec(), len.to_string().into_bytes()));
        }
    }
    frame(&mut s);
    s
}

/// The body as the HTTP/1.1 server hands it to the WAF (RFC 9112 6.3):
/// chunked is decoded and, as Apache does, a Content-Length beside it
/// dropped; otherwise Content-Length bytes are the body; with neither
/// there is none (the bytes would start the next request).
pub fn frame(s: &mut Stage) {
    let chunked = s
        .header("transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().ends_with(b"chunked"));
    if chunked {
        s.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case(b"content-length"));
        s.body = s.body.as_deref().map(dechunk);
    } else if let Some(cl) = s.header("content-length") {
        let cl = std::str::from_utf8(cl).ok().and_then(|c| c.parse().ok());
        if let (Some(cl), Some(body)) = (cl, s.body.as_mut()) {
            body.truncate(cl);
        }
    } else if s.header("transfer-encoding").is_none() {
        s.body = None;
    }
    if s.body.as_ref().is_some_and(Vec::is_empty) {
        s.body = None;
    }
}

/// Decodes a chunked body; what does not parse ends it.
pub fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok());
        let Some(size) = size.filter(|&n| n > 0) else {
            break;
        };
        let data = &raw[eol + 2..];
        out.extend_from_slice(&data[..size.min(data.len())]);
        raw = data.get(size + 2..).unwrap_or_default();
    }
    out
}

pub fn load_cases(dir: &Path) -> Vec<Case> {
    let mut files = Vec::new();
    for family in std::fs::read_dir(dir).unwrap() {
        let family = family.unwrap().path();
        if !family.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&family).unwrap() {
            let f = f.unwrap().path();
            // 999999.yml tests a user exclusion rule that is not CRS.
            if f.extension().is_some_and(|e| e == "yaml") {
                files.push(f);
            }
        }
    }
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let docs = YamlLoader::load_from_str(&text).unwrap();
        let Some(doc) = docs.first() else { continue };
        // 920539.yaml is empty.
        let Some(rule) = doc["rule_id"].as_i64() else {
            continue;
        };
        let rule = rule as u64;
        for t in doc["tests"].as_vec().into_iter().flatten() {
            let stages = t["stages"]
                .as_vec()
                .into_iter()
                .flatten()
                .map(|st| {
                    // Older files nest the stage under `stage:`.
                    let st = if st["stage"].is_badvalue() {
                        st
                    } else {
                        &st["stage"]
                    };
                    stage(&st["input"], &st["output"])
                })
                .collect();
            cases.push(Case {
                rule,
                test: t["test_id"].as_i64().unwrap() as u32,
                stages,
            });
        }
    }
    cases
}
