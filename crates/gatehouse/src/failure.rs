//! Turning Pingora errors into the status, message and metric a client
//! and an operator should see. Messages follow Kong's wording and never
//! name the upstream, its address or the internal error.

use gatehouse_core::Rejection;
use gatehouse_metrics::UpstreamErrorKind;
use gatehouse_protocol::Violation;
use pingora::{Error, ErrorSource, ErrorType};

/// Status 0 means the client connection is gone and nothing can be written.
pub fn classify(e: &Error) -> (Option<Rejection>, Option<UpstreamErrorKind>) {
    use ErrorType as T;
    let timing_out =
        || Rejection::new(504, "upstream_timeout", "The upstream server is timing out");
    let invalid = || {
        Rejection::new(
            502,
            "upstream_error",
            "An invalid response was received from the upstream server",
        )
    };
    match e.etype() {
        T::HTTPStatus(503) => (
            Some(Rejection::new(
                503,
                "no_healthy_upstream",
                "failure to get a peer from the ring-balancer",
            )),
            Some(UpstreamErrorKind::NoHealthyTarget),
        ),
        T::HTTPStatus(code) => (
            Some(Rejection::new(*code, "http_status", status_message(*code))),
            None,
        ),
        T::ConnectTimedout => (Some(timing_out()), Some(UpstreamErrorKind::ConnectTimeout)),
        T::ConnectRefused => (Some(invalid()), Some(UpstreamErrorKind::ConnectRefused)),
        T::ConnectNoRoute
        | T::ConnectError
        | T::BindError
        | T::SocketError
        | T::TLSHandshakeFailure
        | T::TLSHandshakeTimedout
        | T::InvalidCert
        | T::HandshakeError
        | T::ConnectProxyFailure => (Some(invalid()), Some(UpstreamErrorKind::ConnectError)),
        _ => match e.esource() {
            ErrorSource::Upstream => match e.etype() {
                T::ReadTimedout => (Some(timing_out()), Some(UpstreamErrorKind::ReadTimeout)),
                T::WriteTimedout => (Some(timing_out()), Some(UpstreamErrorKind::WriteTimeout)),
                T::InvalidHTTPHeader | T::H1Error | T::H2Error | T::InvalidH2 => {
                    (Some(invalid()), Some(UpstreamErrorKind::BadResponse))
                }
                _ => (Some(invalid()), Some(UpstreamErrorKind::Other)),
            },
            ErrorSource::Downstream => match e.etype() {
                // A chunked body that broke its grammar (see `front`).
                T::ReadError if body_violation(e).is_some() => (
                    body_violation(e)
                        .map(|v| Rejection::new(v.status, v.code, v.message).closing()),
                    None,
                ),
                T::ReadError | T::WriteError | T::ConnectionClosed => (None, None),
                T::ReadTimedout => (
                    Some(Rejection::new(408, "client_timeout", "Request timeout").closing()),
                    None,
                ),
                _ => (
                    Some(Rejection::new(400, "bad_request", "Bad request").closing()),
                    None,
                ),
            },
            ErrorSource::Internal | ErrorSource::Unset => (
                Some(Rejection::new(
                    500,
                    "internal_error",
                    "An unexpected error occurred",
                )),
                None,
            ),
        },
    }
}

/// The protocol violation behind a client read error, if that is what
/// stopped the request body.
fn body_violation(e: &Error) -> Option<Violation> {
    let cause = e.root_cause();
    let io = cause.downcast_ref::<std::io::Error>()?;
    io.get_ref()?.downcast_ref::<Violation>().copied()
}

fn status_message(code: u16) -> &'static str {
    http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(e: Box<Error>) -> Option<u16> {
        classify(&e).0.map(|r| r.status)
    }

    #[test]
    fn upstream_failures_map_to_kong_statuses() {
        assert_eq!(status(Error::new(ErrorType::ConnectRefused)), Some(502));
        assert_eq!(status(Error::new(ErrorType::ConnectTimedout)), Some(504));
        assert_eq!(status(Error::new_up(ErrorType::ReadTimedout)), Some(504));
        assert_eq!(
            status(Error::new_up(ErrorType::InvalidHTTPHeader)),
            Some(502)
        );
        assert_eq!(status(Error::new(ErrorType::HTTPStatus(503))), Some(503));
    }

    #[test]
    fn downstream_failures() {
        assert_eq!(status(Error::new_down(ErrorType::ConnectionClosed)), None);
        assert_eq!(status(Error::new_down(ErrorType::ReadTimedout)), Some(408));
        assert_eq!(
            status(Error::new_down(ErrorType::InvalidHTTPHeader)),
            Some(400)
        );
        assert_eq!(status(Error::new_in(ErrorType::InternalError)), Some(500));
    }

    #[test]
    fn messages_do_not_leak_details() {
        let e = Error::explain(ErrorType::ConnectRefused, "10.0.0.7:8080 refused");
        let (r, kind) = classify(&e);
        let r = r.unwrap();
        assert!(!r.message.contains("10.0.0.7"));
        assert_eq!(kind, Some(UpstreamErrorKind::ConnectRefused));
    }
}
