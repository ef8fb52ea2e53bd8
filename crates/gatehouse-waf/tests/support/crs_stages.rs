//! The CRS regression tests of one rule, read from `../shared` (never
//! copied here) as the `@detectSQLi` and `@detectXSS` tests need them:
//! each stage's URI, headers and body, and the values a rule's targets
//! would hold. Shared by `tests/sqli` and `tests/xss`.

use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

/// Typical header-sized benign values stay cheap; printed, not asserted
/// (debug builds and shared CI machines vary too much).
/// `%XX` decoding (invalid escapes kept), with `+` as space for forms.
pub fn url_decode(s: &[u8], plus: bool) -> Vec<u8> {
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
pub fn form_args(s: &[u8], out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
    for pair in s.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        out.push((url_decode(name, true), url_decode(value, true)));
    }
}

/// Rough XML:/* and XML://@* values: attribute values and text nodes.
pub fn xml_values(s: &[u8], out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
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
pub fn json_values(s: &[u8], out: &mut Vec<(Vec<u8>, Vec<u8>)>) {
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
pub struct Stage {
    pub name: String,
    pub uri: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub data: Option<Vec<u8>>,
    pub expect: Vec<i64>,
    pub no_expect: Vec<i64>,
}

impl Stage {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// ARGS as (name, value): the query string, and a urlencoded, XML or
    /// JSON body.
    pub fn args(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
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

    /// Cookie names and values, the given request headers, ARGS_NAMES and
    /// ARGS (XML values included): what the libinjection rules read.
    pub fn targets(&self, headers: &[&str]) -> Vec<Vec<u8>> {
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
        for h in headers {
            if let Some(v) = self.header(h) {
                out.push(v.to_vec());
            }
        }
        for (name, value) in self.args() {
            out.push(name);
            out.push(value);
        }
        out
    }

    /// REQUEST_FILENAME: the path, percent-decoded.
    pub fn filename(&self) -> Vec<u8> {
        let path_end = self
            .uri
            .iter()
            .position(|&b| b == b'?')
            .unwrap_or(self.uri.len());
        url_decode(&self.uri[..path_end], false)
    }
}

pub fn ids(y: &Yaml) -> Vec<i64> {
    match y {
        Yaml::Array(a) => a.iter().filter_map(Yaml::as_i64).collect(),
        Yaml::Integer(i) => vec![*i],
        _ => Vec::new(),
    }
}

pub fn text(y: &Yaml) -> Option<Vec<u8>> {
    match y {
        Yaml::String(s) => Some(s.as_bytes().to_vec()),
        Yaml::Integer(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

/// The stages of a regression test file (those given as an encoded raw
/// request are left out).
pub fn stages(file: &Path) -> Vec<Stage> {
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

pub fn crs_tests() -> Option<PathBuf> {
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

pub fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
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
