//! HTTP/1.x wire helpers shared by the client and the recording upstream:
//! line and header-block reading, chunked decoding, body framing, error
//! classification and reason phrases. All readers take a [`BufRead`] so that
//! bytes after one message stay buffered for the next (pipelining).

use std::io::{self, BufRead, Read};

/// Longest status line, request line, header line or chunk-size line accepted.
pub const MAX_LINE: u64 = 64 * 1024;

/// Header fields: lowercased names, values, in order.
pub type Fields = Vec<(String, String)>;

/// First value of `name` in a header list (case-insensitive).
pub fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// All values of `name` in a header list (case-insensitive).
pub fn find_headers<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The longest valid UTF-8 prefix of `bytes`.
pub fn utf8_prefix(bytes: &[u8]) -> &str {
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default(),
    }
}

/// Body rendering for Debug output: lossy text, cut at 2 KB.
pub fn preview(body: &[u8]) -> String {
    const MAX: usize = 2048;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]).into_owned();
    if body.len() > MAX {
        format!("{text}... ({} bytes in all)", body.len())
    } else {
        text
    }
}

pub(crate) fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one line (up to and including `\n`), at most [`MAX_LINE`] bytes.
/// Returns the line without its CRLF / LF; `None` on EOF before any byte.
pub fn read_line(r: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = r.by_ref().take(MAX_LINE).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        if n as u64 >= MAX_LINE {
            return Err(invalid("line too long"));
        }
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("connection closed mid-line: {:?}", preview(&line)),
        ));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// Reads header lines up to the empty line. Names are lowercased, values
/// trimmed; obs-fold continuation lines are appended to the previous value.
pub fn read_header_block(r: &mut impl BufRead) -> io::Result<Vec<(String, String)>> {
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let line = read_line(r)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "EOF in header block"))?;
        if line.is_empty() {
            return Ok(headers);
        }
        let text = String::from_utf8_lossy(&line);
        if text.starts_with([' ', '\t']) {
            let last = headers
                .last_mut()
                .ok_or_else(|| invalid("continuation line before any header"))?;
            last.1.push(' ');
            last.1.push_str(text.trim());
            continue;
        }
        let (name, value) = text
            .split_once(':')
            .ok_or_else(|| invalid(format!("header line without colon: {text:?}")))?;
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
}

/// Decodes a chunked body; returns (body, trailers).
pub fn read_chunked(r: &mut impl BufRead) -> io::Result<(Vec<u8>, Fields)> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "EOF in chunk size"))?;
        let text = String::from_utf8_lossy(&line);
        let size_text = text.split(';').next().unwrap_or_default().trim();
        let size = u64::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("bad chunk size line {text:?}")))?;
        if size == 0 {
            let trailers = read_header_block(r)?;
            return Ok((body, trailers));
        }
        let start = body.len();
        let got = r.by_ref().take(size).read_to_end(&mut body)?;
        if (got as u64) < size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("EOF in chunk data ({} of {size} bytes)", body.len() - start),
            ));
        }
        match read_line(r)? {
            Some(l) if l.is_empty() => {}
            other => return Err(invalid(format!("missing CRLF after chunk: {other:?}"))),
        }
    }
}

/// How a message body is delimited, decided from its headers.
pub enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Transfer-Encoding present but not ending in chunked (read to close).
    Close,
}

/// Framing from headers per RFC 9112 §6.3 (ignoring the status-based rules).
pub fn framing(headers: &[(String, String)]) -> io::Result<Framing> {
    let te = find_headers(headers, "transfer-encoding");
    if !te.is_empty() {
        let last = te.join(",");
        let last = last.rsplit(',').next().unwrap_or_default().trim();
        return Ok(if last.eq_ignore_ascii_case("chunked") {
            Framing::Chunked
        } else {
            Framing::Close
        });
    }
    let mut length: Option<u64> = None;
    for v in find_headers(headers, "content-length") {
        for part in v.split(',') {
            let n: u64 = part
                .trim()
                .parse()
                .map_err(|_| invalid(format!("bad content-length {v:?}")))?;
            if length.is_some_and(|l| l != n) {
                return Err(invalid("conflicting content-length values"));
            }
            length = Some(n);
        }
    }
    Ok(length.map_or(Framing::None, Framing::Length))
}

pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

pub fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// Reason phrase for common status codes.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
