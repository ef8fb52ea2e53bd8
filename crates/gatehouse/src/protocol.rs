//! Upstream response framing is checked before a response is relayed, so
//! a client never receives a message whose end it could compute differently
//! from the gateway. (Requests are checked earlier, by `front`.)

use gatehouse_protocol::check_response_framing;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{Method, Version};
use pingora::http::ResponseHeader;
use pingora::{Error, ErrorType, Result};

/// Refuses to relay an upstream response whose body length a client could
/// compute differently from us (duplicate or invalid Content-Length,
/// Transfer-Encoding other than a single `chunked`, ...). The caller turns
/// the error into a 502.
pub fn check_response(method: &Method, resp: &ResponseHeader) -> Result<()> {
    let values = |name| resp.headers.get_all(name).into_iter().map(|v| v.as_bytes());
    let checked = check_response_framing(
        resp.status.as_u16(),
        resp.version == Version::HTTP_10,
        method.as_str().as_bytes(),
        values(CONTENT_LENGTH),
        values(TRANSFER_ENCODING),
    );
    match checked {
        Ok(_) => Ok(()),
        Err(v) => {
            let mut e = Error::explain(ErrorType::InvalidHTTPHeader, v.code);
            e.as_up();
            Err(e)
        }
    }
}
