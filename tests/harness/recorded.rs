//! [`Recorded`]: a request as the recording upstream received it, and the
//! lenient request reader that produces it (see `upstream.rs` for behaviour).

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use super::wire::{self, find_header, find_headers, preview, Framing};

const MAX_HEAD: usize = 64 * 1024;

/// One request as the upstream received it.
#[derive(Clone)]
pub struct Recorded {
    pub method: String,
    /// Raw request-target as received.
    pub target: String,
    pub version: String,
    /// Names lowercased, values trimmed, order and duplicates kept.
    pub headers: Vec<(String, String)>,
    /// Decoded body.
    pub body: Vec<u8>,
    /// Trailer fields of a chunked body (names lowercased).
    pub trailers: Vec<(String, String)>,
    pub peer: SocketAddr,
    /// The exact head bytes received (request line to the empty line).
    pub raw_head: Vec<u8>,
    /// Number of the connection it came on (0, 1, ... in accept order).
    pub connection: usize,
    pub received_at: Instant,
    /// Why the request was considered malformed, if it was.
    pub error: Option<String>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        find_headers(&self.headers, name)
    }
    /// The target without its query string.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
    pub fn body_str(&self) -> &str {
        wire::utf8_prefix(&self.body)
    }
}

impl fmt::Debug for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorded")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("version", &self.version)
            .field("headers", &self.headers)
            .field("body", &preview(&self.body))
            .field("trailers", &self.trailers)
            .field("peer", &self.peer)
            .field("connection", &self.connection)
            .field("error", &self.error)
            .finish()
    }
}

/// True if the client asked to close after this request.
pub fn wants_close(req: &Recorded) -> bool {
    let conn = req
        .header("connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let tokens: Vec<&str> = conn.split(',').map(str::trim).collect();
    tokens.contains(&"close") || (req.version == "HTTP/1.0" && !tokens.contains(&"keep-alive"))
}

/// Reads one request. `None` when the connection closed (or timed out, or
/// failed) before any byte of a request; `Some` with `error` set when the
/// input was malformed or cut short.
pub fn read_request(
    r: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
    peer: SocketAddr,
    connection: usize,
) -> Option<Recorded> {
    let mut raw_head = Vec::new();
    let mut req = Recorded {
        method: String::new(),
        target: String::new(),
        version: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
        trailers: Vec::new(),
        peer,
        raw_head: Vec::new(),
        connection,
        received_at: Instant::now(),
        error: None,
    };
    // Read the head line by line until the empty line (leading empty lines
    // between requests are skipped, as RFC 9112 allows).
    let mut lines: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = match r
            .by_ref()
            .take(MAX_HEAD as u64)
            .read_until(b'\n', &mut line)
        {
            Ok(n) => n,
            Err(e) => {
                raw_head.extend_from_slice(&line);
                if raw_head.is_empty() {
                    return None;
                }
                return Some(failed(
                    req,
                    raw_head,
                    lines,
                    format!("read error in head: {e}"),
                ));
            }
        };
        if n == 0 {
            if raw_head.is_empty() {
                return None;
            }
            return Some(failed(req, raw_head, lines, "EOF in head".into()));
        }
        if lines.is_empty() && (line == b"\r\n" || line == b"\n") && raw_head.is_empty() {
            continue;
        }
        if lines.is_empty() && raw_head.is_empty() {
            req.received_at = Instant::now();
        }
        raw_head.extend_from_slice(&line);
        if raw_head.len() >= MAX_HEAD {
            return Some(failed(req, raw_head, lines, "head too large".into()));
        }
        if line.last() != Some(&b'\n') {
            return Some(failed(req, raw_head, lines, "EOF in head".into()));
        }
        let trimmed = trim_eol(&line).to_vec();
        if trimmed.is_empty() {
            break;
        }
        lines.push(trimmed);
    }
    let mut req = parse_head(req, raw_head, lines);
    if req.error.is_some() {
        return Some(req);
    }
    let framing = match wire::framing(&req.headers) {
        Ok(Framing::Close) => Err("transfer-encoding without final chunked".to_string()),
        Ok(f) => Ok(f),
        Err(e) => Err(e.to_string()),
    };
    let framing = match framing {
        Ok(f) => f,
        Err(e) => {
            req.error = Some(e);
            return Some(req);
        }
    };
    let has_body = !matches!(framing, Framing::None | Framing::Length(0));
    let expect = req.header("expect").unwrap_or_default();
    if has_body && expect.eq_ignore_ascii_case("100-continue") && req.version == "HTTP/1.1" {
        let _ = w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let result = match framing {
        Framing::Chunked => wire::read_chunked(r).map(|(body, trailers)| {
            req.trailers = trailers;
            body
        }),
        Framing::Length(n) => {
            let mut body = Vec::new();
            match r.by_ref().take(n).read_to_end(&mut body) {
                Ok(got) if got as u64 == n => Ok(body),
                Ok(got) => {
                    req.body = body;
                    Err(io::Error::other(format!("EOF in body: {got} of {n} bytes")))
                }
                Err(e) => Err(e),
            }
        }
        Framing::None | Framing::Close => Ok(Vec::new()),
    };
    match result {
        Ok(body) => req.body = body,
        Err(e) => req.error = Some(format!("bad body: {e}")),
    }
    Some(req)
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn failed(req: Recorded, raw_head: Vec<u8>, lines: Vec<Vec<u8>>, error: String) -> Recorded {
    let mut req = parse_head(req, raw_head, lines);
    req.error.get_or_insert(error);
    req
}

/// Fills method/target/version/headers from head lines (without EOLs).
fn parse_head(mut req: Recorded, raw_head: Vec<u8>, lines: Vec<Vec<u8>>) -> Recorded {
    req.raw_head = raw_head;
    let mut lines = lines.into_iter();
    let Some(first) = lines.next() else {
        req.error = Some("no request line".into());
        return req;
    };
    let first = String::from_utf8_lossy(&first).into_owned();
    let parts: Vec<&str> = first.split(' ').collect();
    if let [method, target, version] = parts[..] {
        req.method = method.to_string();
        req.target = target.to_string();
        req.version = version.to_string();
        if !version.starts_with("HTTP/1.") || method.is_empty() || target.is_empty() {
            req.error = Some(format!("bad request line {first:?}"));
        }
    } else {
        req.method = parts.first().copied().unwrap_or_default().to_string();
        req.error = Some(format!("bad request line {first:?}"));
    }
    for line in lines {
        let text = String::from_utf8_lossy(&line).into_owned();
        if text.starts_with([' ', '\t']) {
            match req.headers.last_mut() {
                Some(last) => {
                    last.1.push(' ');
                    last.1.push_str(text.trim());
                }
                None => {
                    req.error
                        .get_or_insert(format!("continuation first: {text:?}"));
                }
            }
        } else if let Some((name, value)) = text.split_once(':') {
            req.headers
                .push((name.to_ascii_lowercase(), value.trim().to_string()));
        } else {
            req.error
                .get_or_insert(format!("header without colon: {text:?}"));
        }
    }
    req
}
