//! Compact JWS tokens (RFC 7515 §7.1): strict parsing and the signature
//! check.
//!
//! Parsing refuses anything a verifier could read two ways: base64url
//! that is padded, uses another alphabet or has stray bits; headers that
//! ask to trust keys carried by the token (`jwk`, `jku`, `x5u`, `x5c`) or
//! extensions we do not implement (`crit`, unencoded payloads); and `none`.
//! The signature is then checked with the algorithm of the key, the token's
//! `alg` only having to name that same algorithm.

use crate::keys::{alg_name, Algorithm, VerifyKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use std::fmt;

/// Header parameters that would let a token choose its own key.
const FORBIDDEN: [&str; 4] = ["jwk", "jku", "x5u", "x5c"];

/// Why a token is refused before any key is involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not three segments, bad base64url, or an empty signature.
    Malformed,
    /// The header (or, for [`parse`], the payload) is not a JSON object,
    /// or `kid`/`typ` is not a string.
    InvalidJson,
    /// `alg` is `none`, in any letter case.
    AlgNone,
    /// The header carries a key or key location (`jwk`, `jku`, `x5u`, `x5c`).
    ForbiddenHeader(&'static str),
    /// `crit` is present (no extension is understood), or `b64` is not `true`.
    UnknownCritical,
    /// `alg` is absent, empty or not a string.
    MissingAlg,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Malformed => f.write_str("malformed token"),
            TokenError::InvalidJson => f.write_str("token header or payload is not a JSON object"),
            TokenError::AlgNone => f.write_str("unsigned token (alg \"none\")"),
            TokenError::ForbiddenHeader(h) => write!(f, "token header \"{h}\" is not accepted"),
            TokenError::UnknownCritical => f.write_str("token uses an unsupported JWS extension"),
            TokenError::MissingAlg => f.write_str("token header has no \"alg\""),
        }
    }
}

impl std::error::Error for TokenError {}

/// Why a signature is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The token's `alg` is not the key's algorithm; no crypto was done.
    AlgorithmMismatch,
    Invalid,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SignatureError::AlgorithmMismatch => "token algorithm does not match the key",
            SignatureError::Invalid => "invalid signature",
        })
    }
}

impl std::error::Error for SignatureError {}

/// The JOSE header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// As written in the token: compared exactly with the key's algorithm.
    pub alg: String,
    pub kid: Option<String>,
    pub typ: Option<String>,
    /// Every header parameter, `alg`, `kid` and `typ` included.
    pub raw: Map<String, Value>,
}

/// A JWT: a compact JWS whose payload is a JSON object. Its signature is
/// not checked yet: see [`verify_signature`].
#[derive(Debug, Clone)]
pub struct Token<'a> {
    pub header: Header,
    pub claims: Map<String, Value>,
    signing_input: &'a str,
    signature: &'a str,
}

/// A compact JWS with its payload as bytes (not necessarily JSON).
#[derive(Debug, Clone)]
pub struct Jws<'a> {
    pub header: Header,
    pub payload: Vec<u8>,
    signing_input: &'a str,
    signature: &'a str,
}

mod sealed {
    pub trait Sealed {}
}

/// What [`verify_signature`] needs: a parsed [`Token`] or [`Jws`]. Sealed,
/// so that only parsed (hence checked) tokens are ever verified.
pub trait Signed: sealed::Sealed {
    fn header(&self) -> &Header;
    /// `header.payload` exactly as in the token, the bytes that are signed.
    fn signing_input(&self) -> &str;
    /// The base64url signature segment.
    fn signature(&self) -> &str;
}

impl sealed::Sealed for Token<'_> {}
impl sealed::Sealed for Jws<'_> {}

impl Signed for Token<'_> {
    fn header(&self) -> &Header {
        &self.header
    }
    fn signing_input(&self) -> &str {
        self.signing_input
    }
    fn signature(&self) -> &str {
        self.signature
    }
}

impl Signed for Jws<'_> {
    fn header(&self) -> &Header {
        &self.header
    }
    fn signing_input(&self) -> &str {
        self.signing_input
    }
    fn signature(&self) -> &str {
        self.signature
    }
}

/// Parses a JWT. Every check of [`parse_jws`], and the payload must be a
/// JSON object. Decodes header and payload once; nothing is verified.
pub fn parse(token: &str) -> Result<Token<'_>, TokenError> {
    let parts = split(token)?;
    let payload = b64(parts.payload)?;
    let claims = json_object(&payload)?;
    Ok(Token {
        header: parts.header,
        claims,
        signing_input: parts.signing_input,
        signature: parts.signature,
    })
}

/// Parses a compact JWS, keeping the payload as bytes.
pub fn parse_jws(token: &str) -> Result<Jws<'_>, TokenError> {
    let parts = split(token)?;
    Ok(Jws {
        payload: b64(parts.payload)?,
        header: parts.header,
        signing_input: parts.signing_input,
        signature: parts.signature,
    })
}

/// Checks the signature with `key`'s algorithm. The token's `alg` must be
/// that algorithm's exact name, else nothing is computed.
pub fn verify_signature<T: Signed + ?Sized>(
    token: &T,
    key: &VerifyKey,
) -> Result<(), SignatureError> {
    let alg = key.alg();
    if token.header().alg != alg_name(alg) {
        return Err(SignatureError::AlgorithmMismatch);
    }
    let signature = token.signature();
    // ECDSA must be JOSE's fixed-size r||s (RFC 7518 §3.4), never DER;
    // ring's FIXED algorithms insist too, this says it without a decode.
    if let Some(len) = fixed_signature_len(alg) {
        if decoded_len(signature) != len {
            return Err(SignatureError::Invalid);
        }
    }
    match jsonwebtoken::crypto::verify(
        signature,
        token.signing_input().as_bytes(),
        key.decoding_key(),
        alg,
    ) {
        Ok(true) => Ok(()),
        Ok(false) | Err(_) => Err(SignatureError::Invalid),
    }
}

fn fixed_signature_len(alg: Algorithm) -> Option<usize> {
    match alg {
        Algorithm::HS256 => Some(32),
        Algorithm::HS384 => Some(48),
        Algorithm::HS512 | Algorithm::ES256 | Algorithm::EdDSA => Some(64),
        Algorithm::ES384 => Some(96),
        _ => None,
    }
}

/// Bytes encoded by unpadded base64 of `s.len()` characters.
fn decoded_len(s: &str) -> usize {
    s.len() / 4 * 3 + (s.len() % 4).saturating_sub(1)
}

struct Parts<'a> {
    header: Header,
    payload: &'a str,
    signing_input: &'a str,
    signature: &'a str,
}

/// Structure and header checks shared by [`parse`] and [`parse_jws`].
fn split(token: &str) -> Result<Parts<'_>, TokenError> {
    let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (header_b64, payload) = signing_input.split_once('.').ok_or(TokenError::Malformed)?;
    if payload.contains('.') || header_b64.is_empty() {
        return Err(TokenError::Malformed);
    }
    let raw = json_object(&b64(header_b64)?)?;
    let alg = match raw.get("alg") {
        Some(Value::String(alg)) if !alg.is_empty() => alg,
        _ => return Err(TokenError::MissingAlg),
    };
    if alg.trim().eq_ignore_ascii_case("none") {
        return Err(TokenError::AlgNone);
    }
    if let Some(name) = FORBIDDEN.into_iter().find(|h| raw.contains_key(*h)) {
        return Err(TokenError::ForbiddenHeader(name));
    }
    // RFC 7797's b64=false signs the payload unencoded: a different
    // signing input. Only the default `true` means what we compute.
    if raw.contains_key("crit") || raw.get("b64").is_some_and(|b| b != &Value::Bool(true)) {
        return Err(TokenError::UnknownCritical);
    }
    if signature.is_empty() || !canonical_b64url(signature) {
        return Err(TokenError::Malformed);
    }
    let header = Header {
        alg: alg.clone(),
        kid: string_param(&raw, "kid")?,
        typ: string_param(&raw, "typ")?,
        raw,
    };
    Ok(Parts {
        header,
        payload,
        signing_input,
        signature,
    })
}

fn string_param(raw: &Map<String, Value>, name: &str) -> Result<Option<String>, TokenError> {
    match raw.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(TokenError::InvalidJson),
    }
}

/// Strict base64url: no padding, URL alphabet only, unused bits zero (so
/// one byte string has exactly one encoding).
fn b64(s: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD.decode(s).map_err(|_| TokenError::Malformed)
}

fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, TokenError> {
    serde_json::from_slice(bytes).map_err(|_| TokenError::InvalidJson)
}

/// What [`b64`] accepts, checked without decoding: the signature is only
/// decoded by the crypto, and not at all for HMAC (compared as text).
fn canonical_b64url(s: &str) -> bool {
    fn value(c: u8) -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'-' => Some(62),
            b'_' => Some(63),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    if bytes.iter().any(|c| value(*c).is_none()) {
        return false;
    }
    let last = bytes.last().and_then(|c| value(*c)).unwrap_or(0);
    match bytes.len() % 4 {
        0 => true,
        2 => last & 0x0f == 0,
        3 => last & 0x03 == 0,
        _ => false,
    }
}
