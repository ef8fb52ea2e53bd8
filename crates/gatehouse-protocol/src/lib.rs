//! Strict HTTP/1.x head validation, so the gateway never reads a message
//! differently from the service behind it (request smuggling).
//!
//! Pingora's parser is lenient (bare LF, duplicate or list Content-Length,
//! Content-Length next to Transfer-Encoding, missing Host, odd targets). The
//! gateway therefore hands the raw head bytes to [`check_request_head`]
//! before any other logic and answers a [`Violation`] with its status. Upstream
//! response heads go through [`check_response_head`] before they are relayed.
//!
//! The checks are pure functions over borrowed bytes: a linear scan of the head,
//! no allocation, and no panic on any input.
//!
//! ```
//! use gatehouse_protocol::{check_request_head, Framing, Limits};
//!
//! let limits = Limits::default();
//! let raw = b"POST /x HTTP/1.1\r\nHost: a.example\r\nContent-Length: 2\r\n\r\n";
//! let head = check_request_head(raw, &limits).unwrap();
//! assert_eq!(head.framing, Framing::ContentLength(2));
//!
//! let smuggle = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n";
//! let refused = check_request_head(smuggle, &limits).unwrap_err();
//! assert_eq!(refused.status, 400);
//! assert_eq!(refused.code, "content_length_with_transfer_encoding");
//! ```

mod chunked;
mod framing;
mod lex;
mod request;
mod response;
mod target;
mod violation;

pub use chunked::ChunkedBody;
pub use request::check_request_head;
pub use response::{check_response_framing, check_response_head};
pub use violation::{Violation, CODES, INCOMPLETE_HEAD};

/// Size limits for a request head. Defaults mirror nginx's
/// `large_client_header_buffers 4 8k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the request line, without its CRLF; over it -> 414.
    pub max_request_line: usize,
    /// Bytes of one field line (name, colon, value), without its CRLF;
    /// over it -> 431.
    pub max_header_line: usize,
    /// Bytes of all field lines including their CRLFs, without the request
    /// line and the final empty line; over it -> 431.
    pub max_header_section: usize,
    /// Number of field lines; over it -> 431.
    pub max_headers: usize,
    /// Whether CONNECT is accepted at all; refused with 405 otherwise.
    pub allow_connect: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_line: 8192,
            max_header_line: 8192,
            max_header_section: 32768,
            max_headers: 100,
            allow_connect: false,
        }
    }
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No Content-Length and no Transfer-Encoding: no body.
    None,
    /// Exactly one valid Content-Length.
    ContentLength(u64),
    /// `Transfer-Encoding: chunked` and nothing else.
    Chunked,
}

/// Protocol version of the request line; nothing else is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    Http10,
    Http11,
}

/// Request-target form (RFC 9112 3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`
    Origin,
    /// `http://authority/path?query`
    Absolute,
    /// `*`, OPTIONS only.
    Asterisk,
    /// `host:port`, CONNECT only.
    Authority,
}

/// A request head that passed every check, borrowing from the raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHead<'a> {
    pub method: &'a [u8],
    pub target: &'a [u8],
    pub version: HttpVersion,
    pub target_form: TargetForm,
    /// The host the request is for: the target's authority for absolute and
    /// authority forms (which must then equal Host), else the single
    /// Host value (OWS-trimmed); `None` only for HTTP/1.0 without Host.
    pub host: Option<&'a [u8]>,
    pub framing: Framing,
    /// Bytes of the head, up to and including its empty line.
    pub len: usize,
    /// Number of field lines in the head.
    pub header_count: usize,
    /// An `Upgrade` header lists `h2c`; the gateway decides what to do.
    pub upgrade_h2c: bool,
    /// A WebSocket handshake (RFC 6455 4.1): HTTP/1.1 GET with `Upgrade`
    /// listing `websocket` and `Connection` listing `upgrade`.
    pub upgrade_websocket: bool,
    /// `Expect: 100-continue` on HTTP/1.1 (ignored on 1.0, RFC 9110 10.1.1).
    pub expect_continue: bool,
}

/// How an upstream response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body: response to HEAD, 1xx, 204, 304, or 2xx to CONNECT.
    None,
    ContentLength(u64),
    Chunked,
    /// No framing headers: the body ends when the connection closes.
    UntilClose,
}
