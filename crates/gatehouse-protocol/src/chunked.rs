//! Where a chunked request body ends (RFC 9112 7.1), found while the bytes
//! stream through.
//!
//! The gateway hands a request to the proxy only up to the end of its
//! body, so bytes after it can only ever be read as the next request, the
//! same way the service behind will read them. The grammar is checked
//! strictly on the way: a chunk size that is not plain hex, a missing CRLF
//! after chunk data, a bare LF or a malformed trailer stops the body.

use crate::lex::{is_field_byte, is_tchar};
use crate::violation::{self as v, Violation};

/// 16 hex digits hold any `u64`; more is an overflow attempt.
const MAX_SIZE_DIGITS: u8 = 16;
/// Longest chunk extension accepted on one chunk line.
const MAX_EXTENSION: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size.
    Size {
        value: u64,
        digits: u8,
    },
    /// Whitespace after the size: only more of it or `;` may follow.
    SizeSpace {
        value: u64,
    },
    /// Inside `;name=value` extensions, up to the CR.
    Extension {
        value: u64,
    },
    /// CR of the chunk line seen, LF must follow.
    SizeLf {
        value: u64,
    },
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    /// Start of a trailer field line, or the CR of the final empty line.
    TrailerStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    FinalLf,
    Done,
}

/// Tracks one chunked body. Feed it every body byte in order with
/// [`ChunkedBody::scan`].
///
/// ```
/// use gatehouse_protocol::ChunkedBody;
///
/// let mut body = ChunkedBody::new(8192);
/// let wire = b"5\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.1\r\n";
/// assert_eq!(body.scan(wire), Ok(15));
/// assert!(body.is_done());
/// ```
#[derive(Debug, Clone)]
pub struct ChunkedBody {
    state: State,
    extension_len: usize,
    trailer_len: usize,
    max_trailer: usize,
}

impl ChunkedBody {
    /// `max_trailer` bounds the trailer section in bytes.
    pub fn new(max_trailer: usize) -> Self {
        ChunkedBody {
            state: State::Size {
                value: 0,
                digits: 0,
            },
            extension_len: 0,
            trailer_len: 0,
            max_trailer,
        }
    }

    /// The last chunk and the trailer section have been seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes the next bytes of the body and returns how many of them
    /// belong to it: all of `data`, unless the body ends inside it.
    pub fn scan(&mut self, data: &[u8]) -> Result<usize, Violation> {
        let mut i = 0;
        while let Some(&b) = data.get(i) {
            match self.state {
                State::Done => break,
                State::Data { remaining } => {
                    let available = data.len() - i;
                    let take = usize::try_from(remaining).map_or(available, |r| r.min(available));
                    i += take;
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        State::DataCr
                    } else {
                        State::Data { remaining: left }
                    };
                }
                _ => {
                    self.state = self.step(b)?;
                    i += 1;
                }
            }
        }
        Ok(i)
    }

    fn step(&mut self, b: u8) -> Result<State, Violation> {
        use State::*;
        if matches!(
            self.state,
            TrailerStart | TrailerName | TrailerValue | TrailerLf | FinalLf
        ) {
            self.trailer_len += 1;
            if self.trailer_len > self.max_trailer {
                return Err(v::TRAILER_TOO_LARGE);
            }
        }
        Ok(match self.state {
            Size { value, digits } => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    if digits >= MAX_SIZE_DIGITS {
                        return Err(v::INVALID_CHUNK_SIZE);
                    }
                    Size {
                        value: value << 4 | hex_value(b),
                        digits: digits + 1,
                    }
                }
                b'\n' => return Err(v::INVALID_CHUNK_DELIMITER),
                _ if digits == 0 => return Err(v::INVALID_CHUNK_SIZE),
                b';' => self.extension(value)?,
                b' ' | b'\t' => SizeSpace { value },
                b'\r' => SizeLf { value },
                _ => return Err(v::INVALID_CHUNK_SIZE),
            },
            SizeSpace { value } => match b {
                b' ' | b'\t' => SizeSpace { value },
                b';' => self.extension(value)?,
                _ => return Err(v::INVALID_CHUNK_SIZE),
            },
            Extension { value } => match b {
                b'\r' => SizeLf { value },
                b'\n' => return Err(v::INVALID_CHUNK_DELIMITER),
                _ if is_field_byte(b) => self.extension(value)?,
                _ => return Err(v::INVALID_CHUNK_EXTENSION),
            },
            SizeLf { value } => match (b, value) {
                (b'\n', 0) => TrailerStart,
                (b'\n', remaining) => Data { remaining },
                _ => return Err(v::INVALID_CHUNK_DELIMITER),
            },
            // Zero-length data never stays in this state (see `scan`).
            Data { .. } => return Err(v::INVALID_CHUNK_DELIMITER),
            DataCr => match b {
                b'\r' => DataLf,
                _ => return Err(v::INVALID_CHUNK_DELIMITER),
            },
            DataLf => match b {
                b'\n' => Size {
                    value: 0,
                    digits: 0,
                },
                _ => return Err(v::INVALID_CHUNK_DELIMITER),
            },
            TrailerStart => match b {
                b'\r' => FinalLf,
                _ if is_tchar(b) => TrailerName,
                _ => return Err(v::INVALID_TRAILER),
            },
            TrailerName => match b {
                b':' => TrailerValue,
                _ if is_tchar(b) => TrailerName,
                _ => return Err(v::INVALID_TRAILER),
            },
            TrailerValue => match b {
                b'\r' => TrailerLf,
                _ if is_field_byte(b) => TrailerValue,
                _ => return Err(v::INVALID_TRAILER),
            },
            TrailerLf => match b {
                b'\n' => TrailerStart,
                _ => return Err(v::INVALID_TRAILER),
            },
            FinalLf => match b {
                b'\n' => Done,
                _ => return Err(v::INVALID_CHUNK_DELIMITER),
            },
            Done => Done,
        })
    }

    /// One more byte of extension, within the length bound.
    fn extension(&mut self, value: u64) -> Result<State, Violation> {
        if matches!(self.state, State::Size { .. } | State::SizeSpace { .. }) {
            self.extension_len = 0;
        }
        self.extension_len += 1;
        if self.extension_len > MAX_EXTENSION {
            return Err(v::INVALID_CHUNK_EXTENSION);
        }
        Ok(State::Extension { value })
    }
}

fn hex_value(b: u8) -> u64 {
    u64::from(match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b.wrapping_sub(b'A').wrapping_add(10),
    })
}
