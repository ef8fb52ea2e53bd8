//! Request head checks (RFC 9112 2-3, 5-6; RFC 9110 7.2, 8.6).

use crate::framing::{self, CodingError, LengthError};
use crate::lex::{is_tchar, list_elements, start_line, Field, Fields, LineError};
use crate::target::{self, valid_authority};
use crate::violation::{self as v, Violation};
use crate::{Framing, HttpVersion, Limits, RequestHead};

/// Validates a raw request head: request line, field lines and the empty
/// line, exactly as received. Bytes after the empty line (body) are ignored.
///
/// Returns the parsed head, or the first rule it breaks.
pub fn check_request_head<'a>(
    raw: &'a [u8],
    limits: &Limits,
) -> Result<RequestHead<'a>, Violation> {
    let start = skip_leading_crlf(raw)?;
    let rest = raw.get(start..).unwrap_or_default();
    let (line, used) = start_line(rest, limits.max_request_line).map_err(|e| match e {
        LineError::TooLong => v::REQUEST_LINE_TOO_LONG,
        other => line_violation(other),
    })?;
    let (method, target, version) = split_request_line(line)?;
    // Before Host is looked at: a refused method needs no further reason.
    if method == b"CONNECT" && !limits.allow_connect {
        return Err(v::CONNECT_REFUSED);
    }
    let (target_form, target_host) = target::classify(method, target)?;

    let section_start = start + used;
    let mut fields = Fields::new(raw, section_start, limits.max_header_line);
    let mut seen = Seen::default();
    while let Some(field) = fields.next_field().map_err(line_violation)? {
        seen.count += 1;
        if seen.count > limits.max_headers {
            return Err(v::TOO_MANY_HEADERS);
        }
        if fields.pos() - section_start > limits.max_header_section {
            return Err(v::HEADER_SECTION_TOO_LARGE);
        }
        seen.observe(field)?;
    }

    if seen.host.is_none() && version == HttpVersion::Http11 {
        return Err(v::MISSING_HOST);
    }
    // RFC 9112 3.2.2 says to ignore such a Host; a proxy behind us might
    // not, so the two names could route differently. Refused, byte for
    // byte as the proxy's own parser compares them.
    if let (Some(authority), Some(host)) = (target_host, seen.host) {
        if authority != host {
            return Err(v::HOST_AUTHORITY_MISMATCH);
        }
    }
    Ok(RequestHead {
        method,
        target,
        version,
        target_form,
        host: target_host.or(seen.host),
        framing: seen.framing(version)?,
        len: fields.pos(),
        header_count: seen.count,
        upgrade_h2c: seen.upgrade_h2c,
        upgrade_websocket: seen.upgrade_websocket
            && seen.connection_upgrade
            && version == HttpVersion::Http11
            && method == b"GET",
        expect_continue: seen.expect_continue && version == HttpVersion::Http11,
    })
}

/// RFC 9112 2.2 lets a server ignore "at least one" empty line before the
/// request line; we ignore exactly one, since more is never sent by a
/// well-behaved client but is a cheap desync probe.
fn skip_leading_crlf(raw: &[u8]) -> Result<usize, Violation> {
    let start = if raw.starts_with(b"\r\n") { 2 } else { 0 };
    match raw.get(start..).unwrap_or_default() {
        [b'\r', b'\n', ..] => Err(v::LEADING_EMPTY_LINES),
        [b'\n', ..] => Err(v::BARE_LF),
        _ => Ok(start),
    }
}

fn line_violation(e: LineError) -> Violation {
    match e {
        LineError::Incomplete => v::INCOMPLETE_HEAD,
        LineError::BareLf => v::BARE_LF,
        LineError::BareCr => v::BARE_CR,
        LineError::TooLong => v::HEADER_LINE_TOO_LONG,
        LineError::ObsFold => v::OBS_FOLD,
        LineError::EmptyName => v::EMPTY_HEADER_NAME,
        LineError::SpaceBeforeColon => v::SPACE_BEFORE_COLON,
        LineError::InvalidName => v::INVALID_HEADER_NAME,
        LineError::MissingColon => v::MISSING_COLON,
        LineError::InvalidValue => v::INVALID_HEADER_VALUE,
    }
}

/// Splits `method SP request-target SP HTTP-version` on exactly single SPs.
/// The version is checked before the target so `GET / HTTP/2.0` is a 505.
fn split_request_line(line: &[u8]) -> Result<(&[u8], &[u8], HttpVersion), Violation> {
    let method_len = line
        .iter()
        .position(|&b| !is_tchar(b))
        .unwrap_or(line.len());
    let (method, after) = line.split_at(method_len);
    let after = match after {
        _ if method.is_empty() => return Err(v::INVALID_REQUEST_LINE),
        [b' ', after @ ..] => after,
        [] => return Err(v::INVALID_REQUEST_LINE),
        _ => return Err(v::INVALID_METHOD),
    };
    let Some(target_len) = after.iter().position(|&b| b == b' ') else {
        return Err(v::INVALID_REQUEST_LINE);
    };
    let (target, version) = after.split_at(target_len);
    let version = version.get(1..).unwrap_or_default();
    if target.is_empty() || version.contains(&b' ') {
        return Err(v::INVALID_REQUEST_LINE);
    }
    Ok((method, target, parse_version(version)?))
}

/// `HTTP/1.1` and `HTTP/1.0` only; any other well-formed `HTTP/x.y` is 505.
fn parse_version(version: &[u8]) -> Result<HttpVersion, Violation> {
    match version {
        b"HTTP/1.1" => Ok(HttpVersion::Http11),
        b"HTTP/1.0" => Ok(HttpVersion::Http10),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(v::UNSUPPORTED_VERSION)
        }
        _ => Err(v::INVALID_VERSION),
    }
}

/// What the field lines said about routing and framing. Duplicates of
/// singleton fields are refused on sight, so one slot each is enough.
#[derive(Default)]
struct Seen<'a> {
    count: usize,
    host: Option<&'a [u8]>,
    content_length: Option<u64>,
    transfer_encoding: Option<&'a [u8]>,
    upgrade_h2c: bool,
    upgrade_websocket: bool,
    connection_upgrade: bool,
    connection_options: usize,
    expect_continue: bool,
}

/// Pingora refuses ten or more `Connection` options.
const MAX_CONNECTION_OPTIONS: usize = 9;

/// Fields a `Connection` option may not remove: the routing host and the
/// forwarding fields the gateway sets for the service.
const PROTECTED_FIELDS: [&[u8]; 4] = [
    b"host",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"x-forwarded-proto",
];

impl<'a> Seen<'a> {
    /// Dispatches on the name length first so most fields cost one compare.
    fn observe(&mut self, field: Field<'a>) -> Result<(), Violation> {
        match field.name.len() {
            4 if field.is(b"host") => {
                if self.host.is_some() {
                    return Err(v::DUPLICATE_HOST);
                }
                if !valid_authority(field.value, false) {
                    return Err(v::INVALID_HOST);
                }
                self.host = Some(field.value);
            }
            14 if field.is(b"content-length") => {
                if self.content_length.is_some() {
                    return Err(v::DUPLICATE_CONTENT_LENGTH);
                }
                let n = framing::content_length(field.value).map_err(|e| match e {
                    LengthError::List => v::DUPLICATE_CONTENT_LENGTH,
                    LengthError::Invalid => v::INVALID_CONTENT_LENGTH,
                })?;
                self.content_length = Some(n);
            }
            17 if field.is(b"transfer-encoding") => {
                if self.transfer_encoding.is_some() {
                    return Err(v::DUPLICATE_TRANSFER_ENCODING);
                }
                self.transfer_encoding = Some(field.value);
            }
            7 if field.is(b"upgrade") => {
                self.upgrade_h2c |=
                    list_elements(field.value).any(|p| p.eq_ignore_ascii_case(b"h2c"));
                // Exactly `websocket`, as the proxy's upgrade policy wants it.
                self.upgrade_websocket |= field.value.eq_ignore_ascii_case(b"websocket");
            }
            10 if field.is(b"connection") => self.connection(field.value)?,
            6 if field.is(b"expect") => {
                self.expect_continue |= field.value.eq_ignore_ascii_case(b"100-continue");
            }
            _ => {}
        }
        Ok(())
    }

    /// `Connection` options name fields to drop before forwarding. They
    /// must be tokens, few, and never a field the gateway itself relies
    /// on upstream (the proxy would otherwise refuse the request only
    /// after connecting to the service).
    fn connection(&mut self, value: &[u8]) -> Result<(), Violation> {
        for option in list_elements(value).filter(|o| !o.is_empty()) {
            self.connection_options += 1;
            if self.connection_options > MAX_CONNECTION_OPTIONS
                || !option.iter().all(|&b| is_tchar(b))
            {
                return Err(v::INVALID_CONNECTION_OPTION);
            }
            if PROTECTED_FIELDS
                .iter()
                .any(|p| option.eq_ignore_ascii_case(p))
            {
                return Err(v::PROTECTED_CONNECTION_OPTION);
            }
            self.connection_upgrade |= option.eq_ignore_ascii_case(b"upgrade");
        }
        Ok(())
    }

    /// Decides the body framing once all fields are known. Any
    /// Transfer-Encoding that is not a lone `chunked` on HTTP/1.1 without
    /// Content-Length is refused: that is where CL.TE and TE.CL live.
    fn framing(&self, version: HttpVersion) -> Result<Framing, Violation> {
        let Some(te) = self.transfer_encoding else {
            return Ok(match self.content_length {
                Some(n) => Framing::ContentLength(n),
                None => Framing::None,
            });
        };
        if version == HttpVersion::Http10 {
            return Err(v::TRANSFER_ENCODING_HTTP10);
        }
        if self.content_length.is_some() {
            return Err(v::CONTENT_LENGTH_WITH_TRANSFER_ENCODING);
        }
        framing::transfer_coding(te).map_err(|e| match e {
            CodingError::Malformed => v::INVALID_TRANSFER_ENCODING,
            CodingError::ChunkedNotLast => v::CHUNKED_NOT_LAST,
            CodingError::Unsupported => v::UNSUPPORTED_TRANSFER_CODING,
        })?;
        Ok(Framing::Chunked)
    }
}
