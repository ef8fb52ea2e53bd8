use std::borrow::Cow;

/// Content type of every error body the gateway writes itself.
pub const ERROR_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// A request stopped by the gateway: what the client is told and why.
///
/// `code` is a stable machine name used in metrics and logs (for example
/// `route_not_found`); `message` is the human text clients see. Neither
/// may carry internals such as regexes, key ids or upstream addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub code: &'static str,
    pub message: Cow<'static, str>,
    /// Extra response headers the policy asks for (`WWW-Authenticate`,
    /// `Retry-After`, ...).
    pub headers: Vec<(&'static str, String)>,
    /// Close the client connection after answering (framing errors, where
    /// the rest of the stream cannot be trusted).
    pub close: bool,
}

impl Rejection {
    pub fn new(status: u16, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Rejection {
            status,
            code,
            message: message.into(),
            headers: Vec::new(),
            close: false,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }

    /// The JSON body for this rejection.
    pub fn body(&self, request_id: &str) -> Vec<u8> {
        error_body(&self.message, request_id)
    }
}

/// The common error body, Kong-compatible with the request id added:
/// `{"message":"...","request_id":"..."}`.
pub fn error_body(message: &str, request_id: &str) -> Vec<u8> {
    let value = serde_json::json!({ "message": message, "request_id": request_id });
    let mut body = value.to_string().into_bytes();
    body.push(b'\n');
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_json_with_message_and_request_id() {
        let r = Rejection::new(404, "route_not_found", "no Route matched with those values");
        let body = r.body("abc123");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["message"], "no Route matched with those values");
        assert_eq!(v["request_id"], "abc123");
        assert_eq!(v.as_object().unwrap().len(), 2);
    }

    #[test]
    fn message_is_escaped() {
        let body = error_body("a \"quoted\"\nline", "id");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["message"], "a \"quoted\"\nline");
    }

    #[test]
    fn builder_keeps_headers_and_close() {
        let r = Rejection::new(401, "unauthorized", "Unauthorized")
            .with_header("WWW-Authenticate", "Bearer")
            .closing();
        assert_eq!(r.headers, vec![("WWW-Authenticate", "Bearer".to_string())]);
        assert!(r.close);
    }
}
