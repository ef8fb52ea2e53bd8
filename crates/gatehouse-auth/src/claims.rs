//! Claim checks after the signature: Kong's `claims_to_verify` and
//! `maximum_expiration` with Kong's messages, then issuer, audience,
//! required claims and scopes. Times are Unix seconds.

use serde_json::{Map, Value};

/// Why verified claims are not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimError {
    pub code: &'static str,
    pub message: String,
    /// 403 with `insufficient_scope` instead of 401.
    pub forbidden: bool,
}

impl ClaimError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        ClaimError {
            code,
            message: message.into(),
            forbidden: false,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ClaimRules {
    pub verify_exp: bool,
    pub verify_nbf: bool,
    /// Seconds; 0 is no limit (Kong).
    pub maximum_expiration: u64,
    /// Clock skew allowed on exp and nbf, seconds.
    pub leeway: u64,
    /// Accepted `iss` values; empty accepts any.
    pub issuers: Vec<String>,
    /// The token's `aud` must contain one of these; empty accepts any.
    pub audiences: Vec<String>,
    pub required: Vec<String>,
    /// Every one must be granted by `scope` (space-separated) or `scp`.
    pub scopes: Vec<String>,
}

impl ClaimRules {
    pub fn check(&self, claims: &Map<String, Value>, now: u64) -> Result<(), ClaimError> {
        let now = now as f64;
        let leeway = self.leeway as f64;
        if self.verify_exp {
            match claims.get("exp").and_then(Value::as_f64) {
                None => return Err(ClaimError::new("exp_invalid", "exp must be a number")),
                Some(exp) if exp + leeway <= now => {
                    return Err(ClaimError::new("token_expired", "token expired"))
                }
                Some(_) => {}
            }
        }
        if self.verify_nbf {
            match claims.get("nbf").and_then(Value::as_f64) {
                None => return Err(ClaimError::new("nbf_invalid", "nbf must be a number")),
                Some(nbf) if nbf - leeway > now => {
                    return Err(ClaimError::new(
                        "token_not_valid_yet",
                        "token not valid yet",
                    ))
                }
                Some(_) => {}
            }
        }
        if self.maximum_expiration > 0 {
            let too_long = match claims.get("exp").and_then(Value::as_f64) {
                None => true,
                Some(exp) => exp - now > self.maximum_expiration as f64,
            };
            if too_long {
                return Err(ClaimError::new(
                    "expiration_too_long",
                    "exceeds maximum allowed expiration",
                ));
            }
        }
        if !self.issuers.is_empty() {
            let iss = claims.get("iss").and_then(Value::as_str);
            if !iss.is_some_and(|i| self.issuers.iter().any(|a| a == i)) {
                return Err(ClaimError::new("invalid_issuer", "Invalid issuer"));
            }
        }
        if !self.audiences.is_empty() {
            let ok = match claims.get("aud") {
                Some(Value::String(a)) => self.audiences.contains(a),
                Some(Value::Array(list)) => list
                    .iter()
                    .filter_map(Value::as_str)
                    .any(|a| self.audiences.iter().any(|x| x == a)),
                _ => false,
            };
            if !ok {
                return Err(ClaimError::new("invalid_audience", "Invalid audience"));
            }
        }
        for name in &self.required {
            if claims.get(name).is_none_or(Value::is_null) {
                return Err(ClaimError::new(
                    "missing_claim",
                    format!("Missing required claim '{name}'"),
                ));
            }
        }
        if !self.scopes.is_empty() {
            let granted = granted_scopes(claims);
            if !self.scopes.iter().all(|s| granted.contains(&s.as_str())) {
                return Err(ClaimError {
                    forbidden: true,
                    ..ClaimError::new("insufficient_scope", "Insufficient scope")
                });
            }
        }
        Ok(())
    }

    /// The latest time the verified result stays valid: `exp` plus leeway,
    /// when exp is checked and present.
    pub fn valid_until(&self, claims: &Map<String, Value>) -> Option<u64> {
        let exp = claims.get("exp").and_then(Value::as_f64)?;
        (exp >= 0.0).then(|| (exp as u64).saturating_add(self.leeway))
    }
}

/// OAuth scopes: `scope` as a space-separated string (RFC 8693) or `scp`
/// as a list or string (common in identity providers).
fn granted_scopes(claims: &Map<String, Value>) -> Vec<&str> {
    let mut out = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => out.extend(s.split_ascii_whitespace()),
            Some(Value::Array(list)) => out.extend(list.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    out
}

/// The value at a dotted path (`realm_access.roles`) as header text:
/// strings as they are, arrays joined with commas, other values as JSON.
pub fn claim_text(claims: &Map<String, Value>, path: &str) -> Option<String> {
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.get(part)?;
    }
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
        ),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn exp_and_nbf_with_kong_messages_and_leeway() {
        let rules = ClaimRules {
            verify_exp: true,
            verify_nbf: true,
            leeway: 10,
            ..ClaimRules::default()
        };
        let at = |exp: i64, nbf: i64| rules.check(&claims(json!({"exp": exp, "nbf": nbf})), 1000);
        assert!(at(1001, 1000).is_ok());
        assert!(at(991, 1010).is_ok(), "inside the leeway on both sides");
        assert_eq!(at(990, 1000).unwrap_err().message, "token expired");
        assert_eq!(at(2000, 1011).unwrap_err().message, "token not valid yet");
        let e = rules.check(&claims(json!({"exp": "soon", "nbf": 1})), 1000);
        assert_eq!(e.unwrap_err().message, "exp must be a number");
    }

    #[test]
    fn maximum_expiration_needs_an_exp_close_enough() {
        let rules = ClaimRules {
            maximum_expiration: 60,
            ..ClaimRules::default()
        };
        assert!(rules.check(&claims(json!({"exp": 1060})), 1000).is_ok());
        let e = rules
            .check(&claims(json!({"exp": 1061})), 1000)
            .unwrap_err();
        assert_eq!(e.message, "exceeds maximum allowed expiration");
        assert!(rules.check(&claims(json!({})), 1000).is_err());
    }

    #[test]
    fn issuer_audience_required_and_scopes() {
        let rules = ClaimRules {
            issuers: vec!["https://auth.example.com".into()],
            audiences: vec!["api".into()],
            required: vec!["sub".into()],
            scopes: vec!["read".into(), "write".into()],
            ..ClaimRules::default()
        };
        let ok = json!({"iss": "https://auth.example.com", "aud": ["x", "api"], "sub": "u", "scope": "read write admin"});
        assert!(rules.check(&claims(ok.clone()), 0).is_ok());
        let mut c = claims(ok);
        c.insert("iss".into(), json!("https://evil.example.com"));
        assert_eq!(rules.check(&c, 0).unwrap_err().code, "invalid_issuer");
        c.insert("iss".into(), json!("https://auth.example.com"));
        c.insert("aud".into(), json!("other"));
        assert_eq!(rules.check(&c, 0).unwrap_err().code, "invalid_audience");
        c.insert("aud".into(), json!("api"));
        c.remove("sub");
        assert_eq!(
            rules.check(&c, 0).unwrap_err().message,
            "Missing required claim 'sub'"
        );
        c.insert("sub".into(), json!("u"));
        c.insert("scope".into(), json!("read"));
        let e = rules.check(&c, 0).unwrap_err();
        assert!(e.forbidden && e.code == "insufficient_scope");
        c.remove("scope");
        c.insert("scp".into(), json!(["write", "read"]));
        assert!(rules.check(&c, 0).is_ok());
    }

    #[test]
    fn claims_as_header_text() {
        let c = claims(
            json!({"sub": "42", "roles": ["a", "b"], "n": 7, "o": {"x": {"y": true}}, "z": null}),
        );
        assert_eq!(claim_text(&c, "sub").as_deref(), Some("42"));
        assert_eq!(claim_text(&c, "roles").as_deref(), Some("a,b"));
        assert_eq!(claim_text(&c, "n").as_deref(), Some("7"));
        assert_eq!(claim_text(&c, "o.x.y").as_deref(), Some("true"));
        assert_eq!(claim_text(&c, "o.missing"), None);
        assert_eq!(claim_text(&c, "z"), None);
    }
}
