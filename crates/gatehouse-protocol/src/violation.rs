//! Every way a head can be refused, as constants.
//!
//! Keeping them in one table means the metric labels ([`CODES`]) cannot
//! drift from what the checks actually return.

use std::fmt;

/// Why a head was refused: the status to answer with, a stable metric label
/// and a short client-facing message that never echoes the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Violation {
    /// HTTP status for the rejection (4xx/5xx for requests, 502 upstream).
    pub status: u16,
    /// Stable snake_case label, safe as a metric label value.
    pub code: &'static str,
    /// Short text for the response body; contains no input bytes.
    pub message: &'static str,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for Violation {}

impl Violation {
    /// The head checked so far is fine but has not ended yet: read more.
    pub fn is_incomplete(&self) -> bool {
        self.code == INCOMPLETE_HEAD.code
    }
}

const fn v(status: u16, code: &'static str, message: &'static str) -> Violation {
    Violation {
        status,
        code,
        message,
    }
}

// Request line and head structure.
/// The head ended (or stalled) before its empty line.
pub const INCOMPLETE_HEAD: Violation = v(
    400,
    "incomplete_head",
    "Bad Request: incomplete request head",
);
pub(crate) const LEADING_EMPTY_LINES: Violation = v(
    400,
    "leading_empty_lines",
    "Bad Request: empty lines before request line",
);
pub(crate) const BARE_LF: Violation = v(400, "bare_lf", "Bad Request: line must end with CRLF");
pub(crate) const BARE_CR: Violation = v(400, "bare_cr", "Bad Request: stray CR in head");
pub(crate) const REQUEST_LINE_TOO_LONG: Violation = v(414, "request_line_too_long", "URI Too Long");
pub(crate) const INVALID_REQUEST_LINE: Violation = v(
    400,
    "invalid_request_line",
    "Bad Request: malformed request line",
);
pub(crate) const INVALID_METHOD: Violation =
    v(400, "invalid_method", "Bad Request: invalid method");
pub(crate) const INVALID_VERSION: Violation =
    v(400, "invalid_version", "Bad Request: invalid HTTP version");
pub(crate) const UNSUPPORTED_VERSION: Violation =
    v(505, "unsupported_version", "HTTP Version Not Supported");

// Request target.
pub(crate) const INVALID_TARGET: Violation =
    v(400, "invalid_target", "Bad Request: invalid request target");
pub(crate) const BACKSLASH_IN_TARGET: Violation = v(
    400,
    "backslash_in_target",
    "Bad Request: backslash in request target",
);
pub(crate) const FRAGMENT_IN_TARGET: Violation = v(
    400,
    "fragment_in_target",
    "Bad Request: fragment in request target",
);
pub(crate) const ASTERISK_TARGET_NOT_OPTIONS: Violation = v(
    400,
    "asterisk_target_not_options",
    "Bad Request: '*' target is only valid with OPTIONS",
);
pub(crate) const AUTHORITY_TARGET_NOT_CONNECT: Violation = v(
    400,
    "authority_target_not_connect",
    "Bad Request: authority target is only valid with CONNECT",
);
pub(crate) const CONNECT_REFUSED: Violation = v(405, "connect_refused", "Method Not Allowed");

// Header lines.
pub(crate) const OBS_FOLD: Violation = v(400, "obs_fold", "Bad Request: folded header line");
pub(crate) const EMPTY_HEADER_NAME: Violation =
    v(400, "empty_header_name", "Bad Request: empty header name");
pub(crate) const SPACE_BEFORE_COLON: Violation = v(
    400,
    "space_before_colon",
    "Bad Request: whitespace between header name and colon",
);
pub(crate) const INVALID_HEADER_NAME: Violation = v(
    400,
    "invalid_header_name",
    "Bad Request: invalid header name",
);
pub(crate) const MISSING_COLON: Violation = v(
    400,
    "missing_colon",
    "Bad Request: header line without colon",
);
pub(crate) const INVALID_HEADER_VALUE: Violation = v(
    400,
    "invalid_header_value",
    "Bad Request: invalid header value",
);
pub(crate) const HEADER_LINE_TOO_LONG: Violation = v(
    431,
    "header_line_too_long",
    "Request Header Fields Too Large",
);
pub(crate) const HEADER_SECTION_TOO_LARGE: Violation = v(
    431,
    "header_section_too_large",
    "Request Header Fields Too Large",
);
pub(crate) const TOO_MANY_HEADERS: Violation =
    v(431, "too_many_headers", "Request Header Fields Too Large");

// Connection options.
pub(crate) const INVALID_CONNECTION_OPTION: Violation = v(
    400,
    "invalid_connection_option",
    "Bad Request: invalid Connection header",
);
pub(crate) const PROTECTED_CONNECTION_OPTION: Violation = v(
    400,
    "protected_connection_option",
    "Bad Request: Connection names a field that cannot be removed",
);

// Host.
pub(crate) const MISSING_HOST: Violation =
    v(400, "missing_host", "Bad Request: missing Host header");
pub(crate) const DUPLICATE_HOST: Violation = v(
    400,
    "duplicate_host",
    "Bad Request: more than one Host header",
);
pub(crate) const HOST_AUTHORITY_MISMATCH: Violation = v(
    400,
    "host_authority_mismatch",
    "Bad Request: Host differs from the request-target authority",
);
pub(crate) const INVALID_HOST: Violation =
    v(400, "invalid_host", "Bad Request: invalid Host header");

// Body framing.
pub(crate) const DUPLICATE_CONTENT_LENGTH: Violation = v(
    400,
    "duplicate_content_length",
    "Bad Request: more than one Content-Length",
);
pub(crate) const INVALID_CONTENT_LENGTH: Violation = v(
    400,
    "invalid_content_length",
    "Bad Request: invalid Content-Length",
);
pub(crate) const CONTENT_LENGTH_WITH_TRANSFER_ENCODING: Violation = v(
    400,
    "content_length_with_transfer_encoding",
    "Bad Request: both Content-Length and Transfer-Encoding",
);
pub(crate) const TRANSFER_ENCODING_HTTP10: Violation = v(
    400,
    "transfer_encoding_http10",
    "Bad Request: Transfer-Encoding in an HTTP/1.0 request",
);
pub(crate) const DUPLICATE_TRANSFER_ENCODING: Violation = v(
    400,
    "duplicate_transfer_encoding",
    "Bad Request: more than one Transfer-Encoding",
);
pub(crate) const INVALID_TRANSFER_ENCODING: Violation = v(
    400,
    "invalid_transfer_encoding",
    "Bad Request: malformed Transfer-Encoding",
);
pub(crate) const CHUNKED_NOT_LAST: Violation = v(
    400,
    "chunked_not_last",
    "Bad Request: chunked must be the final transfer coding",
);
pub(crate) const UNSUPPORTED_TRANSFER_CODING: Violation = v(
    501,
    "unsupported_transfer_coding",
    "Not Implemented: unsupported transfer coding",
);

// Chunked request bodies.
pub(crate) const INVALID_CHUNK_SIZE: Violation =
    v(400, "invalid_chunk_size", "Bad Request: invalid chunk size");
pub(crate) const INVALID_CHUNK_EXTENSION: Violation = v(
    400,
    "invalid_chunk_extension",
    "Bad Request: invalid chunk extension",
);
pub(crate) const INVALID_CHUNK_DELIMITER: Violation = v(
    400,
    "invalid_chunk_delimiter",
    "Bad Request: chunk not followed by CRLF",
);
pub(crate) const INVALID_TRAILER: Violation =
    v(400, "invalid_trailer", "Bad Request: invalid trailer field");
pub(crate) const TRAILER_TOO_LARGE: Violation = v(
    400,
    "trailer_too_large",
    "Bad Request: trailer section too large",
);

// Upstream responses: the client learns nothing beyond "Bad Gateway".
pub(crate) const UPSTREAM_INCOMPLETE_HEAD: Violation =
    v(502, "upstream_incomplete_head", "Bad Gateway");
pub(crate) const UPSTREAM_INVALID_STATUS_LINE: Violation =
    v(502, "upstream_invalid_status_line", "Bad Gateway");
pub(crate) const UPSTREAM_BARE_LF: Violation = v(502, "upstream_bare_lf", "Bad Gateway");
pub(crate) const UPSTREAM_BARE_CR: Violation = v(502, "upstream_bare_cr", "Bad Gateway");
pub(crate) const UPSTREAM_OBS_FOLD: Violation = v(502, "upstream_obs_fold", "Bad Gateway");
pub(crate) const UPSTREAM_INVALID_HEADER: Violation =
    v(502, "upstream_invalid_header", "Bad Gateway");
pub(crate) const UPSTREAM_DUPLICATE_CONTENT_LENGTH: Violation =
    v(502, "upstream_duplicate_content_length", "Bad Gateway");
pub(crate) const UPSTREAM_INVALID_CONTENT_LENGTH: Violation =
    v(502, "upstream_invalid_content_length", "Bad Gateway");
pub(crate) const UPSTREAM_CONTENT_LENGTH_WITH_TRANSFER_ENCODING: Violation = v(
    502,
    "upstream_content_length_with_transfer_encoding",
    "Bad Gateway",
);
pub(crate) const UPSTREAM_INVALID_TRANSFER_ENCODING: Violation =
    v(502, "upstream_invalid_transfer_encoding", "Bad Gateway");
pub(crate) const UPSTREAM_TRANSFER_ENCODING_HTTP10: Violation =
    v(502, "upstream_transfer_encoding_http10", "Bad Gateway");
pub(crate) const UPSTREAM_TRANSFER_ENCODING_WITHOUT_BODY: Violation = v(
    502,
    "upstream_transfer_encoding_without_body",
    "Bad Gateway",
);

/// Every violation the crate can return; [`CODES`] is derived from it.
pub(crate) const ALL: [Violation; 55] = [
    INCOMPLETE_HEAD,
    LEADING_EMPTY_LINES,
    BARE_LF,
    BARE_CR,
    REQUEST_LINE_TOO_LONG,
    INVALID_REQUEST_LINE,
    INVALID_METHOD,
    INVALID_VERSION,
    UNSUPPORTED_VERSION,
    INVALID_TARGET,
    BACKSLASH_IN_TARGET,
    FRAGMENT_IN_TARGET,
    ASTERISK_TARGET_NOT_OPTIONS,
    AUTHORITY_TARGET_NOT_CONNECT,
    CONNECT_REFUSED,
    OBS_FOLD,
    EMPTY_HEADER_NAME,
    SPACE_BEFORE_COLON,
    INVALID_HEADER_NAME,
    MISSING_COLON,
    INVALID_HEADER_VALUE,
    HEADER_LINE_TOO_LONG,
    HEADER_SECTION_TOO_LARGE,
    TOO_MANY_HEADERS,
    INVALID_CONNECTION_OPTION,
    PROTECTED_CONNECTION_OPTION,
    MISSING_HOST,
    DUPLICATE_HOST,
    HOST_AUTHORITY_MISMATCH,
    INVALID_HOST,
    DUPLICATE_CONTENT_LENGTH,
    INVALID_CONTENT_LENGTH,
    CONTENT_LENGTH_WITH_TRANSFER_ENCODING,
    TRANSFER_ENCODING_HTTP10,
    DUPLICATE_TRANSFER_ENCODING,
    INVALID_TRANSFER_ENCODING,
    CHUNKED_NOT_LAST,
    UNSUPPORTED_TRANSFER_CODING,
    INVALID_CHUNK_SIZE,
    INVALID_CHUNK_EXTENSION,
    INVALID_CHUNK_DELIMITER,
    INVALID_TRAILER,
    TRAILER_TOO_LARGE,
    UPSTREAM_INCOMPLETE_HEAD,
    UPSTREAM_INVALID_STATUS_LINE,
    UPSTREAM_BARE_LF,
    UPSTREAM_BARE_CR,
    UPSTREAM_OBS_FOLD,
    UPSTREAM_INVALID_HEADER,
    UPSTREAM_DUPLICATE_CONTENT_LENGTH,
    UPSTREAM_INVALID_CONTENT_LENGTH,
    UPSTREAM_CONTENT_LENGTH_WITH_TRANSFER_ENCODING,
    UPSTREAM_INVALID_TRANSFER_ENCODING,
    UPSTREAM_TRANSFER_ENCODING_HTTP10,
    UPSTREAM_TRANSFER_ENCODING_WITHOUT_BODY,
];

const fn codes() -> [&'static str; ALL.len()] {
    let mut out = [""; ALL.len()];
    let mut i = 0;
    while i < ALL.len() {
        out[i] = ALL[i].code;
        i += 1;
    }
    out
}

/// Every violation code either check can return, so the gateway can
/// pre-register metric label values before the first rejection.
pub const CODES: &[&str] = &codes();

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_label_safe() {
        let set: HashSet<_> = CODES.iter().collect();
        assert_eq!(set.len(), CODES.len());
        for code in CODES {
            assert!(!code.is_empty());
            assert!(code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'1' || b == b'0'));
        }
    }

    #[test]
    fn upstream_codes_are_502_and_prefixed() {
        for v in ALL {
            assert_eq!(v.code.starts_with("upstream_"), v.status == 502, "{v}");
            assert!((400..600).contains(&v.status));
            assert!(!v.message.is_empty() && v.message.len() < 80);
        }
    }
}
