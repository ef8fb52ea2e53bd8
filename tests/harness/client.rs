//! A small blocking HTTP/1.x client built on `std::net`, with raw bytes as a
//! first-class citizen (protocol tests write arbitrary bytes and parse what
//! comes back).
//!
//! Every socket opened here has a 5 s connect timeout and 5 s read/write
//! timeouts, so a test never hangs on a silent peer.
//!
//! Response parsing works on any [`BufRead`]: the buffered reader keeps bytes
//! that arrived after one response, so several pipelined responses can be read
//! from one connection in sequence (use one `BufReader<TcpStream>` per
//! connection, or [`Conn`] which wraps exactly that). A `&[u8]` is a `BufRead`
//! too, which makes parsing captured bytes easy (see [`parse_responses`]).

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::wire::{
    find_header, find_headers, framing, invalid, is_disconnect, is_timeout, preview, read_chunked,
    read_header_block, read_line, utf8_prefix, Framing,
};

/// Connect, read and write timeout of every client socket.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Opens a TCP connection with [`TIMEOUT`] applied to connect, read and write.
pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One parsed HTTP/1.x response.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Protocol version from the status line, e.g. `HTTP/1.1`.
    pub version: String,
    pub status: u16,
    pub reason: String,
    /// Header names lowercased, order and duplicates kept, values trimmed.
    pub headers: Vec<(String, String)>,
    /// Decoded body (chunked framing removed).
    pub body: Vec<u8>,
    /// Trailer fields of a chunked body (names lowercased), usually empty.
    pub trailers: Vec<(String, String)>,
}

impl Response {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// All values of header `name` (case-insensitive), in order.
    pub fn headers_all(&self, name: &str) -> Vec<&str> {
        find_headers(&self.headers, name)
    }

    /// The body as text. If it is not valid UTF-8, only the longest valid
    /// prefix is returned; use [`Response::body_lossy`] for the whole body.
    pub fn body_str(&self) -> &str {
        utf8_prefix(&self.body)
    }

    /// The whole body with invalid UTF-8 replaced by U+FFFD.
    pub fn body_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The body parsed as JSON; panics showing the response if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {self:?}"))
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("reason", &self.reason)
            .field("version", &self.version)
            .field("headers", &self.headers)
            .field("body", &preview(&self.body))
            .field("trailers", &self.trailers)
            .finish()
    }
}

/// Parses one HTTP/1.x response from `stream`.
///
/// `stream` must be a [`BufRead`] that lives as long as the connection (for
/// example one `BufReader<TcpStream>`): bytes read past the end of this
/// response stay in its buffer for the next call, so pipelined responses can
/// be read one after another. `head_request` says the request was HEAD (no
/// body follows). 1xx, 204 and 304 have no body; otherwise the body is framed
/// by chunked Transfer-Encoding (trailers kept), Content-Length, or the peer
/// closing. A 1xx interim response is returned as is: call again for the next.
pub fn read_response(stream: &mut impl BufRead, head_request: bool) -> io::Result<Response> {
    let line = read_line(stream)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a response",
        )
    })?;
    let text = String::from_utf8_lossy(&line).into_owned();
    let mut parts = text.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_string();
    let code = parts.next().unwrap_or_default();
    let reason = parts.next().unwrap_or_default().to_string();
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(invalid(format!("bad status line {text:?}")));
    }
    let status: u16 = code
        .parse()
        .map_err(|_| invalid(format!("bad status code in {text:?}")))?;
    let headers = read_header_block(stream)?;
    let mut response = Response {
        version,
        status,
        reason,
        headers,
        body: Vec::new(),
        trailers: Vec::new(),
    };
    if head_request || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(response);
    }
    match framing(&response.headers)? {
        Framing::Chunked => {
            let (body, trailers) = read_chunked(stream)?;
            response.body = body;
            response.trailers = trailers;
        }
        Framing::Length(n) => {
            let got = stream.take(n).read_to_end(&mut response.body)?;
            if (got as u64) < n {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("body cut short: {got} of {n} bytes"),
                ));
            }
        }
        Framing::None | Framing::Close => {
            stream.read_to_end(&mut response.body)?;
        }
    }
    Ok(response)
}

/// Like [`read_response`] but skips 1xx interim responses (except 101).
pub fn read_final_response(stream: &mut impl BufRead, head_request: bool) -> io::Result<Response> {
    loop {
        let r = read_response(stream, head_request)?;
        if !(100..200).contains(&r.status) || r.status == 101 {
            return Ok(r);
        }
    }
}

/// Parses every complete response in `bytes` (for output of [`send_raw`]).
/// Stops at the end of input; a trailing partial response is an error.
/// `head_request` applies to all of them.
pub fn parse_responses(mut bytes: &[u8], head_request: bool) -> io::Result<Vec<Response>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        out.push(read_response(&mut bytes, head_request)?);
    }
    Ok(out)
}

/// Connects, writes `bytes`, then reads until the peer closes or 5 s pass in
/// all, and returns everything read. A reset or broken pipe after the write
/// is not an error: what was read so far is returned.
pub fn send_raw(addr: SocketAddr, bytes: &[u8]) -> io::Result<Vec<u8>> {
    send_raw_for(addr, bytes, TIMEOUT)
}

/// [`send_raw`] with a custom total read time.
pub fn send_raw_for(addr: SocketAddr, bytes: &[u8], wait: Duration) -> io::Result<Vec<u8>> {
    let mut stream = connect(addr)?;
    if let Err(e) = stream.write_all(bytes) {
        if !is_disconnect(&e) {
            return Err(e);
        }
    }
    read_until_close(&mut stream, wait)
}

/// Reads until EOF, a reset, or `wait` elapses; returns what was read.
pub fn read_until_close(stream: &mut impl ReadTimeout, wait: Duration) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(out);
        }
        stream.set_timeout(left)?;
        match stream.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) || is_disconnect(&e) => return Ok(out),
            Err(e) => return Err(e),
        }
    }
}

/// A reader whose read timeout can be changed ([`TcpStream`], [`Conn`]).
pub trait ReadTimeout: Read {
    fn set_timeout(&mut self, t: Duration) -> io::Result<()>;
}

impl ReadTimeout for TcpStream {
    fn set_timeout(&mut self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))
    }
}

/// An HTTP/1.1 request to serialise. Build with [`Request::get`] etc.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Request-target written verbatim (`/path?q`, `*`, absolute-form, ...).
    pub target: String,
    /// Version on the request line, `HTTP/1.1` unless changed.
    pub version: String,
    pub headers: Vec<(String, String)>,
    /// Written verbatim after the head (already chunk-encoded if chunked).
    pub body: Vec<u8>,
    /// Do not add a `Host` header.
    pub no_host: bool,
}

impl Request {
    pub fn new(method: &str, target: &str) -> Request {
        Request {
            method: method.to_string(),
            target: target.to_string(),
            version: "HTTP/1.1".to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            no_host: false,
        }
    }
    pub fn get(target: &str) -> Request {
        Request::new("GET", target)
    }
    pub fn head(target: &str) -> Request {
        Request::new("HEAD", target)
    }
    pub fn post(target: &str) -> Request {
        Request::new("POST", target)
    }
    pub fn put(target: &str) -> Request {
        Request::new("PUT", target)
    }
    pub fn delete(target: &str) -> Request {
        Request::new("DELETE", target)
    }
    pub fn options(target: &str) -> Request {
        Request::new("OPTIONS", target)
    }

    /// Appends a header (duplicates allowed; written exactly as given).
    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }
    /// Sets `Transfer-Encoding: chunked` and encodes `chunks` as the body.
    pub fn chunked(mut self, chunks: &[&[u8]]) -> Request {
        let mut body = Vec::new();
        for c in chunks.iter().filter(|c| !c.is_empty()) {
            body.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            body.extend_from_slice(c);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        self.body = body;
        self.header("Transfer-Encoding", "chunked")
    }
    /// Sends no `Host` header at all (protocol tests).
    pub fn no_host(mut self) -> Request {
        self.no_host = true;
        self
    }
    pub fn version(mut self, version: &str) -> Request {
        self.version = version.to_string();
        self
    }

    pub fn has_header(&self, name: &str) -> bool {
        find_header(&self.headers, name).is_some()
    }

    pub fn is_head(&self) -> bool {
        self.method.eq_ignore_ascii_case("HEAD")
    }

    /// The exact bytes sent: `Host: <addr>` first unless set or `no_host`,
    /// then the headers as given, then `Content-Length` if the body is not
    /// empty and neither Content-Length nor Transfer-Encoding was set.
    pub fn to_bytes(&self, addr: SocketAddr) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.method, self.target, self.version);
        if !self.no_host && !self.has_header("host") {
            out.push_str(&format!("Host: {addr}\r\n"));
        }
        for (k, v) in &self.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        if !self.body.is_empty()
            && !self.has_header("content-length")
            && !self.has_header("transfer-encoding")
        {
            out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Opens a connection, sends `req` (adding `Connection: close` unless a
/// Connection header was set) and reads the final response (1xx skipped,
/// except 101).
pub fn send(addr: SocketAddr, req: &Request) -> io::Result<Response> {
    let mut conn = Conn::open(addr)?;
    if req.has_header("connection") {
        conn.send(req)
    } else {
        conn.send(&req.clone().header("Connection", "close"))
    }
}

/// `GET path` with [`send`]; panics with context on IO error.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    send(addr, &Request::get(path)).unwrap_or_else(|e| panic!("GET {path} on {addr} failed: {e}"))
}

/// A keep-alive client connection; requests are sent one after another on
/// the same socket. Nothing is added to the request except what
/// [`Request::to_bytes`] adds (no `Connection: close`).
pub struct Conn {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> io::Result<Conn> {
        Ok(Conn {
            addr,
            reader: BufReader::new(connect(addr)?),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The underlying socket (for timeouts, local_addr, shutdown...).
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// Writes `req` and reads its final response (1xx skipped, except 101).
    /// If the write fails (say the peer answered 413 and stopped reading),
    /// a response that arrived anyway is still returned; otherwise the write
    /// error is.
    pub fn send(&mut self, req: &Request) -> io::Result<Response> {
        let written = self.write_raw(&req.to_bytes(self.addr));
        match read_final_response(&mut self.reader, req.is_head()) {
            Ok(r) => Ok(r),
            Err(e) => Err(written.err().unwrap_or(e)),
        }
    }

    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stream = self.reader.get_mut();
        stream.write_all(bytes)?;
        stream.flush()
    }

    /// Reads the next response (not for HEAD; see [`Conn::read_response_to`]).
    pub fn read_response(&mut self) -> io::Result<Response> {
        read_response(&mut self.reader, false)
    }

    /// Reads the next response, saying whether it answers a HEAD request.
    pub fn read_response_to(&mut self, head_request: bool) -> io::Result<Response> {
        read_response(&mut self.reader, head_request)
    }

    /// Everything that arrives until the peer closes or `wait` elapses,
    /// including bytes already buffered.
    pub fn read_until_close(&mut self, wait: Duration) -> io::Result<Vec<u8>> {
        read_until_close(self, wait)
    }

    /// True if the peer closed (or reset) the connection within `wait` without
    /// sending anything more; false if data arrived or the wait elapsed.
    /// Data that arrives stays buffered for the next read.
    pub fn is_closed_within(&mut self, wait: Duration) -> bool {
        if self.reader.get_ref().set_read_timeout(Some(wait)).is_err() {
            return true;
        }
        let result = match self.reader.fill_buf() {
            Ok(buf) => buf.is_empty(),
            Err(e) => is_disconnect(&e),
        };
        // Restoring the timeout only fails if the socket is already dead.
        let _ = self.reader.get_ref().set_read_timeout(Some(TIMEOUT));
        result
    }

    /// Half-closes the writing side (the peer sees EOF).
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.reader.get_ref().shutdown(Shutdown::Write)
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl ReadTimeout for Conn {
    fn set_timeout(&mut self, t: Duration) -> io::Result<()> {
        self.reader.get_ref().set_read_timeout(Some(t))
    }
}
