//! Upstream response head checks: refuse to relay a response whose body
//! length the client could compute differently from us.

use crate::framing::{self, LengthError};
use crate::lex::{is_field_byte, start_line, Fields, LineError};
use crate::violation::{self as v, Violation};
use crate::ResponseFraming;

/// Validates a raw upstream response head and says how its body is framed.
/// `request_method` is the method of the request it answers (HEAD and
/// CONNECT change the framing). Every violation has status 502.
///
/// No size limits here: Pingora already caps the response head it buffers.
pub fn check_response_head(
    raw: &[u8],
    request_method: &[u8],
) -> Result<ResponseFraming, Violation> {
    let (line, used) = start_line(raw, usize::MAX).map_err(line_violation)?;
    let (http10, status) = parse_status_line(line)?;

    let mut fields = Fields::new(raw, used, usize::MAX);
    let mut content_length: Option<&[u8]> = None;
    let mut transfer_encoding: Option<&[u8]> = None;
    while let Some(field) = fields.next_field().map_err(line_violation)? {
        let slot = if field.is(b"content-length") {
            &mut content_length
        } else if field.is(b"transfer-encoding") {
            &mut transfer_encoding
        } else {
            continue;
        };
        if slot.is_some() {
            return Err(if field.is(b"content-length") {
                v::UPSTREAM_DUPLICATE_CONTENT_LENGTH
            } else {
                v::UPSTREAM_INVALID_TRANSFER_ENCODING
            });
        }
        *slot = Some(field.value);
    }
    check_response_framing(
        status,
        http10,
        request_method,
        content_length.into_iter(),
        transfer_encoding.into_iter(),
    )
}

/// The framing rules of [`check_response_head`] on an already parsed
/// response: the values of every `Content-Length` and `Transfer-Encoding`
/// field line, in order. For a proxy whose HTTP client has parsed the head
/// already (values must be OWS-trimmed, as parsers deliver them).
pub fn check_response_framing<'a>(
    status: u16,
    http10: bool,
    request_method: &[u8],
    mut content_lengths: impl Iterator<Item = &'a [u8]>,
    mut transfer_encodings: impl Iterator<Item = &'a [u8]>,
) -> Result<ResponseFraming, Violation> {
    let content_length = match content_lengths.next() {
        None => None,
        Some(_) if content_lengths.next().is_some() => {
            return Err(v::UPSTREAM_DUPLICATE_CONTENT_LENGTH)
        }
        // Validated even where it is ignored (1xx/204/304/HEAD): a
        // broken value is a broken upstream either way.
        Some(value) => Some(framing::content_length(value).map_err(|e| match e {
            LengthError::List => v::UPSTREAM_DUPLICATE_CONTENT_LENGTH,
            LengthError::Invalid => v::UPSTREAM_INVALID_CONTENT_LENGTH,
        })?),
    };
    let transfer_encoding = match transfer_encodings.next() {
        None => None,
        Some(_) if transfer_encodings.next().is_some() => {
            return Err(v::UPSTREAM_INVALID_TRANSFER_ENCODING)
        }
        Some(value) => Some(value),
    };

    let no_body_status = status < 200 || status == 204 || status == 304;
    if let Some(te) = transfer_encoding {
        // RFC 9112 6.1: HTTP/1.0 with TE has faulty framing.
        if http10 {
            return Err(v::UPSTREAM_TRANSFER_ENCODING_HTTP10);
        }
        if content_length.is_some() {
            return Err(v::UPSTREAM_CONTENT_LENGTH_WITH_TRANSFER_ENCODING);
        }
        if no_body_status {
            return Err(v::UPSTREAM_TRANSFER_ENCODING_WITHOUT_BODY);
        }
        framing::transfer_coding(te).map_err(|_| v::UPSTREAM_INVALID_TRANSFER_ENCODING)?;
    }

    // RFC 9112 6.3 items 1-2: these never carry a body, whatever the headers.
    let tunnel = request_method == b"CONNECT" && (200..300).contains(&status);
    if request_method == b"HEAD" || no_body_status || tunnel {
        return Ok(ResponseFraming::None);
    }
    Ok(match (transfer_encoding, content_length) {
        (Some(_), _) => ResponseFraming::Chunked,
        (None, Some(n)) => ResponseFraming::ContentLength(n),
        (None, None) => ResponseFraming::UntilClose,
    })
}

fn line_violation(e: LineError) -> Violation {
    match e {
        LineError::Incomplete => v::UPSTREAM_INCOMPLETE_HEAD,
        LineError::BareLf => v::UPSTREAM_BARE_LF,
        LineError::BareCr => v::UPSTREAM_BARE_CR,
        LineError::ObsFold => v::UPSTREAM_OBS_FOLD,
        LineError::TooLong
        | LineError::EmptyName
        | LineError::SpaceBeforeColon
        | LineError::InvalidName
        | LineError::MissingColon
        | LineError::InvalidValue => v::UPSTREAM_INVALID_HEADER,
    }
}

/// `HTTP/1.x SP 3DIGIT [ SP reason-phrase ]`; returns (is HTTP/1.0, status).
/// A missing reason (no SP at all) is tolerated as many servers send it.
fn parse_status_line(line: &[u8]) -> Result<(bool, u16), Violation> {
    let (http10, rest) = match line {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'1', b' ', rest @ ..] => (false, rest),
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', b'0', b' ', rest @ ..] => (true, rest),
        _ => return Err(v::UPSTREAM_INVALID_STATUS_LINE),
    };
    let (code, reason) = match rest {
        [a, b, c] => ([*a, *b, *c], &[][..]),
        [a, b, c, b' ', reason @ ..] => ([*a, *b, *c], reason),
        _ => return Err(v::UPSTREAM_INVALID_STATUS_LINE),
    };
    if !code.iter().all(u8::is_ascii_digit) || !reason.iter().all(|&b| is_field_byte(b)) {
        return Err(v::UPSTREAM_INVALID_STATUS_LINE);
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    // RFC 9110 15: valid status codes are 100..=599.
    if !(100..=599).contains(&status) {
        return Err(v::UPSTREAM_INVALID_STATUS_LINE);
    }
    Ok((http10, status))
}
