//! The `jwt` plugin: Kong's flow (find the token, pick the credential by
//! the key claim, pin the algorithm to the credential, verify, check
//! claims), JWKS keys selected by `kid`, and the verified-token cache.

use crate::cache::TokenCache;
use crate::claims::{claim_text, ClaimRules};
use crate::extract::{Found, RequestParts, TokenLocations};
use crate::jwks::{Jwks, Lookup};
use crate::keys::VerifyKey;
use crate::token::{self, SignatureError, TokenError};
use bytes::Bytes;
use http::HeaderValue;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Every header the plugin may set for the upstream; a client's own values
/// for them are removed so they cannot be forged.
pub const CONSUMER_HEADERS: [&str; 5] = [
    "x-consumer-id",
    "x-consumer-custom-id",
    "x-consumer-username",
    "x-credential-identifier",
    "x-anonymous-consumer",
];
use std::sync::Arc;

/// Longest a verified token is trusted without checking it again, even if
/// it expires later (consumers and keys can change under it).
const CACHE_MAX_SECS: u64 = 300;

/// Longest token parsed; headers are bounded anyway, query strings too,
/// but parsing allocates in proportion, so a small bound is kept here.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A Kong consumer, as the upstream learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    pub id: String,
    pub username: Option<String>,
    pub custom_id: Option<String>,
}

/// A consumer's `jwt_secrets` entry, its key built for this plugin.
pub struct Credential {
    pub key: String,
    pub consumer: Arc<Consumer>,
    pub verify: Arc<VerifyKey>,
}

/// Who the request is from, once authenticated.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub consumer: Option<Arc<Consumer>>,
    /// The credential's `key` (Kong's `X-Credential-Identifier`).
    pub credential: Option<String>,
    pub subject: Option<String>,
    pub claims: Map<String, Value>,
    /// `claims_to_headers`, resolved once when the token was verified.
    pub headers: Vec<(String, String)>,
    pub anonymous: bool,
    /// Every header the service gets for this identity (consumer,
    /// credential, claims), built once: a cached token costs no header
    /// formatting. Claim values that are not valid header values are left
    /// out.
    pub upstream: Vec<(Bytes, HeaderValue)>,
}

impl Identity {
    fn with_upstream_headers(mut self) -> Identity {
        let mut out = Vec::new();
        let mut add = |name: &'static str, value: &str| {
            if let Ok(v) = HeaderValue::from_str(value) {
                out.push((Bytes::from_static(name.as_bytes()), v));
            }
        };
        if let Some(c) = &self.consumer {
            add("x-consumer-id", &c.id);
            if let Some(v) = &c.custom_id {
                add("x-consumer-custom-id", v);
            }
            if let Some(v) = &c.username {
                add("x-consumer-username", v);
            }
        }
        if self.anonymous {
            add("x-anonymous-consumer", "true");
        }
        if let Some(key) = &self.credential {
            add("x-credential-identifier", key);
        }
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                out.push((Bytes::copy_from_slice(name.as_bytes()), v));
            }
        }
        self.upstream = out;
        self
    }
}

/// A refusal: status (401, 403 for scopes, 503 when no key set is
/// loaded), metric code, Kong's message and the `WWW-Authenticate` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub www_authenticate: Option<String>,
}

pub enum Outcome {
    /// Not checked (preflight with `run_on_preflight: false`).
    Skip,
    Allow(Arc<Identity>),
    Deny(AuthError),
}

pub struct JwtPolicy {
    pub locations: TokenLocations,
    pub key_claim_name: String,
    pub rules: ClaimRules,
    pub run_on_preflight: bool,
    pub anonymous: Option<Arc<Consumer>>,
    pub realm: Option<String>,
    /// (dotted claim path, lowercase header name).
    pub claims_to_headers: Vec<(String, String)>,
    /// Header set to `true` for an authenticated (not anonymous) request.
    pub authenticated_header: Option<String>,
    pub forward_token: bool,
    pub credentials: HashMap<String, Credential>,
    pub jwks: Option<Arc<Jwks>>,
    pub cache: Option<TokenCache<Arc<Identity>>>,
}

impl JwtPolicy {
    /// `now` in Unix seconds.
    pub fn authenticate(&self, req: &impl RequestParts, now: u64) -> Outcome {
        if !self.run_on_preflight && req.method() == "OPTIONS" {
            return Outcome::Skip;
        }
        match self.verify(req, now) {
            Ok(identity) => Outcome::Allow(identity),
            Err(e) => match &self.anonymous {
                Some(consumer) => Outcome::Allow(Arc::new(
                    Identity {
                        consumer: Some(consumer.clone()),
                        anonymous: true,
                        ..Identity::default()
                    }
                    .with_upstream_headers(),
                )),
                None => Outcome::Deny(e),
            },
        }
    }

    fn challenge(&self, error: Option<&str>) -> String {
        let mut v = String::from("Bearer");
        if let Some(realm) = &self.realm {
            v.push_str(&format!(" realm=\"{realm}\""));
        }
        if let Some(e) = error {
            v.push_str(if self.realm.is_some() { ", " } else { " " });
            v.push_str(&format!("error=\"{e}\""));
        }
        v
    }

    fn deny(&self, code: &'static str, message: impl Into<String>) -> AuthError {
        AuthError {
            status: 401,
            code,
            message: message.into(),
            www_authenticate: Some(self.challenge(Some("invalid_token"))),
        }
    }

    fn verify(&self, req: &impl RequestParts, now: u64) -> Result<Arc<Identity>, AuthError> {
        let token = match self.locations.find(req) {
            Found::One(t) => t,
            Found::None => {
                return Err(AuthError {
                    status: 401,
                    code: "no_token",
                    message: "Unauthorized".into(),
                    www_authenticate: Some(self.challenge(None)),
                })
            }
            Found::Several => return Err(self.deny("multiple_tokens", "Multiple tokens provided")),
        };
        let generation = self.jwks.as_ref().map_or(0, |j| j.generation());
        if let Some(hit) = self
            .cache
            .as_ref()
            .and_then(|c| c.get(&token, now, generation))
        {
            return Ok(hit);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(self.deny("bad_token", "Bad token; invalid JSON"));
        }
        let parsed = token::parse(&token).map_err(|e| self.bad_token(e))?;
        let (key, credential) = self.select_key(&parsed, now)?;
        token::verify_signature(&parsed, &key).map_err(|e| match e {
            SignatureError::AlgorithmMismatch => {
                self.deny("invalid_algorithm", "Invalid algorithm")
            }
            SignatureError::Invalid => self.deny("invalid_signature", "Invalid signature"),
        })?;
        self.rules.check(&parsed.claims, now).map_err(|e| {
            if e.forbidden {
                AuthError {
                    status: 403,
                    code: e.code,
                    message: e.message,
                    www_authenticate: Some(self.challenge(Some("insufficient_scope"))),
                }
            } else {
                self.deny(e.code, e.message)
            }
        })?;
        let claims = parsed.claims;
        let mut headers: Vec<(String, String)> = self
            .claims_to_headers
            .iter()
            .filter_map(|(path, header)| Some((header.clone(), claim_text(&claims, path)?)))
            .collect();
        if let Some(h) = &self.authenticated_header {
            headers.push((h.clone(), "true".into()));
        }
        let identity = Arc::new(
            Identity {
                consumer: credential.as_ref().map(|c| c.consumer.clone()),
                credential: credential.map(|c| c.key.clone()),
                subject: claims
                    .get("sub")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                headers,
                claims,
                anonymous: false,
                upstream: Vec::new(),
            }
            .with_upstream_headers(),
        );
        if let Some(cache) = &self.cache {
            let until = self
                .rules
                .valid_until(&identity.claims)
                .map_or(now + CACHE_MAX_SECS, |t| t.min(now + CACHE_MAX_SECS));
            cache.insert(&token, identity.clone(), until, generation, now);
        }
        Ok(identity)
    }

    fn bad_token(&self, e: TokenError) -> AuthError {
        match e {
            TokenError::AlgNone | TokenError::MissingAlg => {
                self.deny("bad_token", "Bad token; invalid alg")
            }
            TokenError::ForbiddenHeader(_) | TokenError::UnknownCritical => {
                self.deny("bad_token", "Bad token; unsupported header")
            }
            _ => self.deny("bad_token", "Bad token; invalid JSON"),
        }
    }

    /// The key for this token: from the JWKS set by `kid` when the plugin
    /// has one and the token names a kid, else the consumer credential
    /// named by the key claim (Kong).
    fn select_key<'c>(
        &'c self,
        t: &token::Token<'_>,
        now: u64,
    ) -> Result<(Arc<VerifyKey>, Option<&'c Credential>), AuthError> {
        if let (Some(jwks), Some(kid)) = (&self.jwks, t.header.kid.as_deref()) {
            return match jwks.lookup(kid) {
                Lookup::Key(k, _) => Ok((k, None)),
                Lookup::NotLoaded => Err(AuthError {
                    status: 503,
                    code: "jwks_unavailable",
                    message: "authentication unavailable".into(),
                    www_authenticate: None,
                }),
                Lookup::Unknown => {
                    jwks.request_refetch(now.saturating_mul(1000));
                    Err(self.deny(
                        "unknown_key",
                        "No credentials found for given 'kid'".to_string(),
                    ))
                }
            };
        }
        let name = &self.key_claim_name;
        let value = t
            .claims
            .get(name)
            .or_else(|| t.header.raw.get(name))
            .and_then(Value::as_str);
        let Some(value) = value else {
            return Err(self.deny("no_key_claim", format!("No mandatory '{name}' in claims")));
        };
        if value.is_empty() {
            return Err(self.deny("no_key_claim", format!("Invalid '{name}' in claims")));
        }
        match self.credentials.get(value) {
            Some(c) => Ok((c.verify.clone(), Some(c))),
            None => Err(self.deny(
                "no_credentials",
                format!("No credentials found for given '{name}'"),
            )),
        }
    }
}
