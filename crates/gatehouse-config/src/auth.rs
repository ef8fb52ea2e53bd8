//! The `jwt` plugin and consumers' `jwt_secrets`: Kong's fields, plus
//! JWKS, issuer/audience, leeway, required claims, scopes and claims
//! forwarded as headers. Compiled into `gatehouse_auth::JwtPolicy` once
//! all consumers are known.

use crate::diag::Report;
use crate::raw::Raw;
use crate::section::DurationValue;
use gatehouse_auth::keys::parse_jwks;
use gatehouse_auth::{
    Algorithm, ClaimRules, Consumer, Credential, Jwks, JwksSource, JwtPolicy, TokenCache,
    TokenLocations, VerifyKey,
};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConf {
    pub uri_param_names: Option<Vec<String>>,
    pub cookie_names: Option<Vec<String>>,
    pub header_names: Option<Vec<String>>,
    pub claims_to_verify: Option<Vec<String>>,
    pub key_claim_name: Option<String>,
    pub secret_is_base64: Option<bool>,
    pub anonymous: Option<String>,
    pub run_on_preflight: Option<bool>,
    pub maximum_expiration: Option<u64>,
    pub realm: Option<String>,
    // Beyond Kong.
    pub jwks: Option<JwksConf>,
    pub issuer: Option<String>,
    pub audiences: Option<Vec<String>>,
    pub leeway: Option<u64>,
    pub required_claims: Option<Vec<String>>,
    /// Dotted claim path to header name.
    pub claims_to_headers: Option<BTreeMap<String, String>>,
    /// Header set to `true` on authenticated requests (`x-authenticated`).
    pub authenticated_header: Option<String>,
    pub forward_token: Option<bool>,
    pub scopes: Option<Vec<String>>,
    /// Verified tokens kept; 0 turns the cache off. Default 10000.
    pub cache_size: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwksConf {
    pub url: Option<String>,
    pub file: Option<String>,
    /// How long a fetched key set is used before fetching again.
    pub cache_ttl: Option<DurationValue>,
    /// Least time between fetches triggered by unknown `kid`s.
    pub min_refetch_interval: Option<DurationValue>,
    /// CA bundle (PEM) for an https URL, in addition to the system's.
    pub ca_file: Option<String>,
    /// Algorithm for keys that do not say (RSA keys without `alg`).
    pub algorithm: Option<String>,
}

// `id` and `tags` are accepted and not used.
#[allow(dead_code)]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSecretConf {
    pub key: Option<String>,
    pub secret: Option<String>,
    pub algorithm: Option<String>,
    pub rsa_public_key: Option<String>,
    /// Kong's bookkeeping fields: accepted so pasted configs load.
    pub id: Option<IgnoredAny>,
    pub tags: Option<IgnoredAny>,
}

/// A credential's key material, checked once when the consumer is read.
pub enum SecretKey {
    /// An HMAC secret as written; each plugin decodes it its own way
    /// (`secret_is_base64`).
    Hmac(Algorithm, String),
    /// A public key, the same for every plugin.
    Public(Arc<VerifyKey>),
}

/// A consumer's secret, kept until the plugins that use it are compiled.
pub struct PendingSecret {
    pub consumer: Arc<Consumer>,
    pub raw: Raw,
    /// The credential key tokens name (`iss` by default).
    pub key: String,
    pub material: SecretKey,
}

const DEFAULT_CACHE_SIZE: usize = 10_000;
const DEFAULT_JWKS_TTL: Duration = Duration::from_secs(300);
const DEFAULT_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

pub fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    Ok(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        "ES512" => return Err("algorithm `ES512` is not supported (use ES256 or ES384)".into()),
        other => {
            return Err(format!(
                "unknown algorithm `{other}` (expected HS256/384/512, RS256/384/512, PS256/384/512, ES256, ES384 or EdDSA)"
            ))
        }
    })
}

fn is_hmac(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

/// Checks a consumer's `jwt_secrets` entry on its own (key, algorithm,
/// the key material it needs) and returns its credential key and material;
/// a public key is built here, once for all plugins.
pub fn check_secret(
    report: &Report,
    raw: &Raw,
    conf: &JwtSecretConf,
) -> Option<(String, SecretKey)> {
    let key = conf.key.clone().filter(|k| !k.is_empty());
    if key.is_none() {
        raw.error_at(
            report,
            "key",
            "`key` is required: tokens name their credential by it",
        );
    }
    let material = match parse_algorithm(conf.algorithm.as_deref().unwrap_or("HS256")) {
        Err(e) => {
            raw.error_at(report, "algorithm", e);
            None
        }
        Ok(alg) if is_hmac(alg) => match conf.secret.as_deref().filter(|s| !s.is_empty()) {
            Some(secret) => Some(SecretKey::Hmac(alg, secret.to_string())),
            None => {
                raw.error_at(
                    report,
                    "secret",
                    format!("`secret` is required for {alg:?}"),
                );
                None
            }
        },
        Ok(alg) => match &conf.rsa_public_key {
            None => {
                raw.error_at(
                    report,
                    "rsa_public_key",
                    format!("`rsa_public_key` (a PEM public key) is required for {alg:?}"),
                );
                None
            }
            Some(pem) => match VerifyKey::from_pem(alg, pem.as_bytes()) {
                Ok(k) => Some(SecretKey::Public(Arc::new(k))),
                Err(e) => {
                    raw.error_at(report, "rsa_public_key", e.to_string());
                    None
                }
            },
        },
    };
    Some((key?, material?))
}

/// Compiles one `jwt` plugin instance. `raw` is the plugin entry.
pub fn compile_jwt(
    report: &Report,
    raw: &Raw,
    conf: &JwtConf,
    secrets: &[PendingSecret],
    consumers: &[Arc<Consumer>],
) -> Option<Arc<JwtPolicy>> {
    let errors = report.len();
    let config = raw.child("config").unwrap_or_else(|| raw.clone());
    let base64 = conf.secret_is_base64.unwrap_or(false);
    let mut verify_exp = false;
    let mut verify_nbf = false;
    for (i, c) in conf.claims_to_verify.iter().flatten().enumerate() {
        match c.as_str() {
            "exp" => verify_exp = true,
            "nbf" => verify_nbf = true,
            other => {
                let (m, p) = config.at_index("claims_to_verify", i);
                report.error(
                    &m,
                    &p,
                    format!("`{other}` cannot be verified (expected exp or nbf)"),
                );
            }
        }
    }
    let maximum_expiration = conf.maximum_expiration.unwrap_or(0);
    if maximum_expiration > 0 && !verify_exp {
        config.error_at(
            report,
            "maximum_expiration",
            "`maximum_expiration` needs `exp` in `claims_to_verify`",
        );
    }
    let anonymous = conf.anonymous.as_ref().and_then(|a| {
        let found = consumers
            .iter()
            .find(|c| c.id == *a || c.username.as_deref() == Some(a.as_str()));
        if found.is_none() {
            config.error_at(
                report,
                "anonymous",
                format!("no consumer with id or username `{a}`"),
            );
        }
        found.cloned()
    });
    let mut credentials = HashMap::new();
    for s in secrets {
        let verify = match &s.material {
            SecretKey::Public(k) => k.clone(),
            SecretKey::Hmac(alg, secret) => {
                let bytes = if base64 {
                    use base64::Engine;
                    match base64::engine::general_purpose::STANDARD.decode(secret) {
                        Ok(b) => b,
                        Err(_) => {
                            s.raw.error_at(
                                report,
                                "secret",
                                "not valid base64, as the jwt plugin's `secret_is_base64: true` requires",
                            );
                            continue;
                        }
                    }
                } else {
                    secret.as_bytes().to_vec()
                };
                match VerifyKey::hmac(*alg, &bytes) {
                    Ok(k) => Arc::new(k),
                    Err(e) => {
                        s.raw.error_at(report, "secret", e.to_string());
                        continue;
                    }
                }
            }
        };
        credentials.insert(
            s.key.clone(),
            Credential {
                key: s.key.clone(),
                consumer: s.consumer.clone(),
                verify,
            },
        );
    }
    let jwks = conf
        .jwks
        .as_ref()
        .and_then(|j| compile_jwks(report, &config, j));
    let mut claims_to_headers: Vec<(String, String)> = Vec::new();
    for (claim, header) in conf.claims_to_headers.iter().flatten() {
        if !crate::compile::is_token(header) {
            config.error_at(
                report,
                "claims_to_headers",
                format!("`{header}` is not a valid header name"),
            );
        }
        claims_to_headers.push((claim.clone(), header.to_ascii_lowercase()));
    }
    let authenticated_header = conf.authenticated_header.as_ref().map(|h| {
        if !crate::compile::is_token(h) {
            config.error_at(
                report,
                "authenticated_header",
                format!("`{h}` is not a valid header name"),
            );
        }
        h.to_ascii_lowercase()
    });
    let mut header_names = conf
        .header_names
        .clone()
        .unwrap_or_else(|| vec!["authorization".into()]);
    for h in &mut header_names {
        h.make_ascii_lowercase();
    }
    if report.len() > errors {
        return None;
    }
    let cache_size = conf.cache_size.unwrap_or(DEFAULT_CACHE_SIZE);
    Some(Arc::new(JwtPolicy {
        locations: TokenLocations {
            uri_param_names: conf
                .uri_param_names
                .clone()
                .unwrap_or_else(|| vec!["jwt".into()]),
            cookie_names: conf.cookie_names.clone().unwrap_or_default(),
            header_names,
        },
        key_claim_name: conf.key_claim_name.clone().unwrap_or_else(|| "iss".into()),
        rules: ClaimRules {
            verify_exp,
            verify_nbf,
            maximum_expiration,
            leeway: conf.leeway.unwrap_or(0),
            issuers: conf.issuer.iter().cloned().collect(),
            audiences: conf.audiences.clone().unwrap_or_default(),
            required: conf.required_claims.clone().unwrap_or_default(),
            scopes: conf.scopes.clone().unwrap_or_default(),
        },
        run_on_preflight: conf.run_on_preflight.unwrap_or(true),
        anonymous,
        realm: conf.realm.clone(),
        claims_to_headers,
        authenticated_header,
        forward_token: conf.forward_token.unwrap_or(true),
        credentials,
        jwks,
        cache: (cache_size > 0).then(|| TokenCache::new(cache_size)),
    }))
}

fn compile_jwks(report: &Report, config: &Raw, j: &JwksConf) -> Option<Arc<Jwks>> {
    let raw = config.child("jwks").unwrap_or_else(|| config.clone());
    let source = match (&j.url, &j.file) {
        (Some(url), None) => {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                raw.error_at(report, "url", "must be an http:// or https:// URL");
                return None;
            }
            JwksSource::Url(url.clone())
        }
        (None, Some(file)) => JwksSource::File(file.clone()),
        _ => {
            raw.error_at(report, "", "give exactly one of `url` or `file`");
            return None;
        }
    };
    let fallback = match j.algorithm.as_deref().map(parse_algorithm).transpose() {
        Ok(a) => a,
        Err(e) => {
            raw.error_at(report, "algorithm", e);
            return None;
        }
    };
    let mut jwks = Jwks::new(
        source,
        j.cache_ttl.map_or(DEFAULT_JWKS_TTL, |d| d.0),
        j.min_refetch_interval
            .map_or(DEFAULT_REFETCH_INTERVAL, |d| d.0),
    );
    jwks.ca_file = j.ca_file.clone();
    jwks.fallback_alg = fallback;
    // A file is read now, so a missing or broken one is a config error;
    // the background refresh re-reads it every `cache_ttl`.
    if let Some(file) = &j.file {
        let loaded = std::fs::read(file)
            .map_err(|e| format!("cannot read `{file}`: {e}"))
            .and_then(|bytes| parse_jwks(&bytes, fallback).map_err(|e| e.to_string()));
        match loaded {
            Ok(keys) if !keys.is_empty() => {
                jwks.replace(keys);
            }
            Ok(_) => {
                raw.error_at(report, "file", format!("`{file}` has no usable keys"));
                return None;
            }
            Err(e) => {
                raw.error_at(report, "file", e);
                return None;
            }
        }
    }
    Some(Arc::new(jwks))
}
