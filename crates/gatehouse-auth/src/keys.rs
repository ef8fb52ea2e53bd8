//! Verification keys: HMAC secrets, public-key PEMs, JWKs and JWK sets.
//!
//! A key carries the one algorithm it may verify, decided when the key is
//! configured and never taken from a token: that rules out algorithm
//! confusion (an RSA public key used as an HMAC secret, `none`, a P-384 key
//! behind `ES256`). Keys are checked as far as possible here so that a bad
//! key is a config error rather than every request failing later; the
//! curve-point and RSA arithmetic checks themselves are ring's, at verify.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
pub use jsonwebtoken::Algorithm;
use jsonwebtoken::DecodingKey;
use serde_json::{Map, Value};
use std::fmt;

/// What a key is, fine enough to say which algorithm fits it: an EC key is
/// only usable with the algorithm of its curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFamily {
    Hmac,
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl KeyFamily {
    /// The only key family `alg` can verify with.
    pub fn of(alg: Algorithm) -> KeyFamily {
        use Algorithm::*;
        match alg {
            HS256 | HS384 | HS512 => KeyFamily::Hmac,
            RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => KeyFamily::Rsa,
            ES256 => KeyFamily::EcP256,
            ES384 => KeyFamily::EcP384,
            EdDSA => KeyFamily::Ed25519,
        }
    }
}

impl fmt::Display for KeyFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyFamily::Hmac => "HMAC secret",
            KeyFamily::Rsa => "RSA key",
            KeyFamily::EcP256 => "EC P-256 key",
            KeyFamily::EcP384 => "EC P-384 key",
            KeyFamily::Ed25519 => "Ed25519 key",
        })
    }
}

/// The JOSE name of `alg`, as it must appear in a token's `alg` header.
pub fn alg_name(alg: Algorithm) -> &'static str {
    use Algorithm::*;
    match alg {
        HS256 => "HS256",
        HS384 => "HS384",
        HS512 => "HS512",
        RS256 => "RS256",
        RS384 => "RS384",
        RS512 => "RS512",
        PS256 => "PS256",
        PS384 => "PS384",
        PS512 => "PS512",
        ES256 => "ES256",
        ES384 => "ES384",
        EdDSA => "EdDSA",
    }
}

/// The algorithm with exactly this JOSE name (case-sensitive, as in RFC 7518).
pub fn parse_alg(name: &str) -> Option<Algorithm> {
    use Algorithm::*;
    [
        HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA,
    ]
    .into_iter()
    .find(|a| alg_name(*a) == name)
}

/// Why a key cannot be used. The messages end up in config errors, so they
/// name the problem precisely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    EmptySecret,
    /// The algorithm does not fit the key (HS256 with an RSA key, ES256
    /// with a P-384 key...).
    AlgorithmMismatch {
        alg: Algorithm,
        key: KeyFamily,
    },
    /// An HS* algorithm with a PEM: the classic public-key-as-secret attack.
    HmacWithPublicKey(Algorithm),
    /// A private-key PEM where the public key belongs.
    PrivateKeyPem,
    Pem(String),
    /// The DER inside a PEM is not a public key structure we can read.
    Der(&'static str),
    UnsupportedKey(String),
    InvalidKey(String),
    /// Modulus bits; ring verifies 2048 to 8192 bits only.
    RsaModulusSize(usize),
    RsaExponent,
    Jwk(String),
    UnsupportedAlg(String),
    /// An RSA or oct JWK without `alg`, and no fallback algorithm given.
    MissingAlg(&'static str),
    /// `use` or `key_ops` says the key is not for verifying signatures.
    NotForSignatures(String),
    NotAJwks(String),
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::EmptySecret => f.write_str("the HMAC secret is empty"),
            KeyError::AlgorithmMismatch { alg, key } => write!(
                f,
                "algorithm {} cannot be used with an {key} (it needs an {})",
                alg_name(*alg),
                KeyFamily::of(*alg)
            ),
            KeyError::HmacWithPublicKey(alg) => write!(
                f,
                "algorithm {} is HMAC and needs a shared secret, not a public key PEM",
                alg_name(*alg)
            ),
            KeyError::PrivateKeyPem => {
                f.write_str("the PEM holds a private key; configure the public key instead")
            }
            KeyError::Pem(m) => write!(f, "invalid PEM: {m}"),
            KeyError::Der(m) => write!(f, "invalid public key encoding: {m}"),
            KeyError::UnsupportedKey(m) => write!(f, "unsupported key: {m}"),
            KeyError::InvalidKey(m) => write!(f, "invalid key: {m}"),
            KeyError::RsaModulusSize(bits) => write!(
                f,
                "RSA key of {bits} bits; only 2048 to 8192 bits are accepted"
            ),
            KeyError::RsaExponent => {
                f.write_str("RSA public exponent must be odd, at least 3 and below 2^33")
            }
            KeyError::Jwk(m) => write!(f, "invalid JWK: {m}"),
            KeyError::UnsupportedAlg(a) => write!(f, "unsupported algorithm {a:?}"),
            KeyError::MissingAlg(kty) => write!(
                f,
                "the {kty} JWK has no \"alg\" and no default algorithm is configured"
            ),
            KeyError::NotForSignatures(m) => write!(f, "the JWK is not for signatures: {m}"),
            KeyError::NotAJwks(m) => write!(f, "not a JWK set: {m}"),
        }
    }
}

impl std::error::Error for KeyError {}

/// A key ready to verify signatures of its one algorithm.
#[derive(Clone)]
pub struct VerifyKey {
    alg: Algorithm,
    kid: Option<String>,
    family: KeyFamily,
    key: DecodingKey,
}

/// Key material stays out of logs: only what identifies the key is shown.
impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

impl VerifyKey {
    /// `alg` must be HS256/384/512. Short secrets are accepted (Kong does).
    pub fn hmac(alg: Algorithm, secret: &[u8]) -> Result<VerifyKey, KeyError> {
        fits(alg, KeyFamily::Hmac)?;
        if secret.is_empty() {
            return Err(KeyError::EmptySecret);
        }
        Ok(VerifyKey::new(
            alg,
            KeyFamily::Hmac,
            DecodingKey::from_secret(secret),
        ))
    }

    /// A public key PEM: SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY` or an
    /// X.509 `CERTIFICATE` (its key only: the certificate itself is not
    /// checked). Only the first PEM block is read.
    pub fn from_pem(alg: Algorithm, pem: &[u8]) -> Result<VerifyKey, KeyError> {
        if KeyFamily::of(alg) == KeyFamily::Hmac {
            return Err(KeyError::HmacWithPublicKey(alg));
        }
        let (label, der) = pem_block(pem)?;
        let info = match label {
            "PUBLIC KEY" => spki(&der)?,
            "RSA PUBLIC KEY" => PublicKey::Rsa(&der),
            "CERTIFICATE" => certificate_spki(&der)?,
            l if l.contains("PRIVATE") => return Err(KeyError::PrivateKeyPem),
            l => return Err(KeyError::Pem(format!("unsupported PEM label {l:?}"))),
        };
        let (family, key) = match info {
            PublicKey::Rsa(der) => (KeyFamily::Rsa, rsa_der(der)?),
            PublicKey::Ec(family, point) => (family, ec_point(family, point)?),
            PublicKey::Ed25519(x) => (KeyFamily::Ed25519, ed25519(x)?),
        };
        fits(alg, family)?;
        Ok(VerifyKey::new(alg, family, key))
    }

    /// A single JWK (RFC 7517). The algorithm is the JWK's `alg`, else the
    /// curve's for EC and OKP, else `fallback_alg`; it must fit the key.
    /// Private members are ignored: only the public part is used (for
    /// `oct`, `k` is the secret).
    pub fn from_jwk(jwk: &Value, fallback_alg: Option<Algorithm>) -> Result<VerifyKey, KeyError> {
        let obj = jwk
            .as_object()
            .ok_or_else(|| KeyError::Jwk("not a JSON object".into()))?;
        check_use(obj)?;
        let kid = opt_str(obj, "kid")?.map(str::to_owned);
        let declared = match opt_str(obj, "alg")? {
            None => None,
            Some(a) => Some(parse_alg(a).ok_or_else(|| KeyError::UnsupportedAlg(a.into()))?),
        };
        let (kty, family, key) = match req_str(obj, "kty")? {
            "RSA" => {
                let key = rsa_components(&member_b64(obj, "n")?, &member_b64(obj, "e")?)?;
                ("RSA", KeyFamily::Rsa, key)
            }
            "EC" => {
                let family = match req_str(obj, "crv")? {
                    "P-256" => KeyFamily::EcP256,
                    "P-384" => KeyFamily::EcP384,
                    crv => return Err(KeyError::UnsupportedKey(format!("EC curve {crv:?}"))),
                };
                let (x, y) = (member_b64(obj, "x")?, member_b64(obj, "y")?);
                // Each coordinate full-size (RFC 7518 §6.2.1.2), not just the sum.
                if x.len() != y.len() {
                    return Err(KeyError::InvalidKey("EC x and y differ in length".into()));
                }
                let point = [&[0x04], &x[..], &y[..]].concat();
                ("EC", family, ec_point(family, &point)?)
            }
            "OKP" => match req_str(obj, "crv")? {
                "Ed25519" => ("OKP", KeyFamily::Ed25519, ed25519(&member_b64(obj, "x")?)?),
                crv => return Err(KeyError::UnsupportedKey(format!("OKP curve {crv:?}"))),
            },
            "oct" => {
                let k = member_b64(obj, "k")?;
                if k.is_empty() {
                    return Err(KeyError::EmptySecret);
                }
                ("oct", KeyFamily::Hmac, DecodingKey::from_secret(&k))
            }
            kty => return Err(KeyError::UnsupportedKey(format!("JWK key type {kty:?}"))),
        };
        let alg = match (declared, family) {
            (Some(alg), _) => alg,
            (None, KeyFamily::EcP256) => Algorithm::ES256,
            (None, KeyFamily::EcP384) => Algorithm::ES384,
            (None, KeyFamily::Ed25519) => Algorithm::EdDSA,
            (None, KeyFamily::Rsa | KeyFamily::Hmac) => {
                fallback_alg.ok_or(KeyError::MissingAlg(kty))?
            }
        };
        fits(alg, family)?;
        Ok(VerifyKey::new(alg, family, key).with_kid(kid))
    }

    fn new(alg: Algorithm, family: KeyFamily, key: DecodingKey) -> VerifyKey {
        VerifyKey {
            alg,
            kid: None,
            family,
            key,
        }
    }

    pub fn with_kid(mut self, kid: Option<String>) -> VerifyKey {
        self.kid = kid;
        self
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    pub fn family(&self) -> KeyFamily {
        self.family
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

/// A JWK of a set that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position in `keys`.
    pub index: usize,
    pub kid: Option<String>,
    pub error: KeyError,
}

/// A parsed JWK set: the usable keys, and the others with the reason.
#[derive(Debug, Clone)]
pub struct JwksReport {
    pub keys: Vec<VerifyKey>,
    pub skipped: Vec<SkippedKey>,
}

/// The usable keys of a JWK set (`{"keys":[...]}`), each with its `kid`.
/// Keys that cannot verify (encryption keys, unsupported types, bad
/// members) are skipped; see [`parse_jwks_report`] to learn which.
pub fn parse_jwks(
    json: &[u8],
    fallback_alg: Option<Algorithm>,
) -> Result<Vec<VerifyKey>, KeyError> {
    parse_jwks_report(json, fallback_alg).map(|set| set.keys)
}

/// [`parse_jwks`] with the skipped keys reported. Only a document that is
/// not a JWK set at all is an error: an IdP adding a key of a new kind
/// must not take the others down.
pub fn parse_jwks_report(
    json: &[u8],
    fallback_alg: Option<Algorithm>,
) -> Result<JwksReport, KeyError> {
    let doc: Value = serde_json::from_slice(json)
        .map_err(|e| KeyError::NotAJwks(format!("invalid JSON: {e}")))?;
    let keys = doc
        .as_object()
        .ok_or_else(|| KeyError::NotAJwks("not a JSON object".into()))?
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| KeyError::NotAJwks("no \"keys\" array".into()))?;
    let mut set = JwksReport {
        keys: Vec::with_capacity(keys.len()),
        skipped: Vec::new(),
    };
    for (index, jwk) in keys.iter().enumerate() {
        match VerifyKey::from_jwk(jwk, fallback_alg) {
            Ok(key) => set.keys.push(key),
            Err(error) => set.skipped.push(SkippedKey {
                index,
                kid: jwk.get("kid").and_then(Value::as_str).map(str::to_owned),
                error,
            }),
        }
    }
    Ok(set)
}

fn fits(alg: Algorithm, family: KeyFamily) -> Result<(), KeyError> {
    if KeyFamily::of(alg) == family {
        Ok(())
    } else {
        Err(KeyError::AlgorithmMismatch { alg, key: family })
    }
}

/// RFC 7517 §4.2/4.3: `use` other than `sig`, or `key_ops` without
/// `verify`, means the owner did not publish the key for verification.
fn check_use(obj: &Map<String, Value>) -> Result<(), KeyError> {
    match obj.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(u) => return Err(KeyError::NotForSignatures(format!("\"use\" is {u}"))),
    }
    match obj.get("key_ops") {
        None => Ok(()),
        Some(Value::Array(ops)) if ops.iter().any(|op| op.as_str() == Some("verify")) => Ok(()),
        Some(ops) => Err(KeyError::NotForSignatures(format!(
            "\"key_ops\" {ops} does not include \"verify\""
        ))),
    }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, KeyError> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(KeyError::Jwk(format!("\"{name}\" is not a string"))),
    }
}

fn req_str<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a str, KeyError> {
    opt_str(obj, name)?.ok_or_else(|| KeyError::Jwk(format!("\"{name}\" is missing")))
}

/// A base64url member. Trailing `=` is tolerated: a JWK is trusted
/// configuration, and some publishers pad.
fn member_b64(obj: &Map<String, Value>, name: &str) -> Result<Vec<u8>, KeyError> {
    URL_SAFE_NO_PAD
        .decode(req_str(obj, name)?.trim_end_matches('='))
        .map_err(|_| KeyError::Jwk(format!("\"{name}\" is not base64url")))
}

/// An uncompressed point (`04 || x || y`) of the family's curve. Whether it
/// is on the curve is checked by ring when verifying.
fn ec_point(family: KeyFamily, point: &[u8]) -> Result<DecodingKey, KeyError> {
    let coord = if family == KeyFamily::EcP384 { 48 } else { 32 };
    if point.len() != 1 + 2 * coord || point.first() != Some(&0x04) {
        return Err(KeyError::InvalidKey(format!(
            "an {family} must be an uncompressed point with {coord}-byte coordinates"
        )));
    }
    Ok(DecodingKey::from_ec_der(point))
}

fn ed25519(x: &[u8]) -> Result<DecodingKey, KeyError> {
    if x.len() != 32 {
        return Err(KeyError::InvalidKey(format!(
            "an Ed25519 public key is 32 bytes, not {}",
            x.len()
        )));
    }
    Ok(DecodingKey::from_ed_der(x))
}

/// Checks what ring would refuse at every verify (size, exponent), so that
/// it is refused once, at configuration. Leading zero bytes are dropped:
/// ring rejects them and they do not change the number.
fn rsa_components(n: &[u8], e: &[u8]) -> Result<DecodingKey, KeyError> {
    let n = strip_zeros(n);
    let e = strip_zeros(e);
    let bits = n
        .first()
        .map_or(0, |top| n.len() * 8 - top.leading_zeros() as usize);
    if !(2048..=8192).contains(&bits) {
        return Err(KeyError::RsaModulusSize(bits));
    }
    let e_value = if e.len() <= 5 {
        e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
    } else {
        0
    };
    if !(3..1 << 33).contains(&e_value) || e_value % 2 == 0 {
        return Err(KeyError::RsaExponent);
    }
    Ok(DecodingKey::from_rsa_raw_components(n, e))
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

// --- PEM and the little DER needed to find a public key in it ---------------
//
// Parsed here rather than by jsonwebtoken's PEM support: that one does not
// tell the EC curve (needed to refuse ES256 with a P-384 key), accepts
// private-key PEMs, and classifies a certificate by the first known OID it
// meets (an Ed25519-signed certificate of an RSA key reads as Ed25519).

/// The label and decoded contents of the first PEM block.
fn pem_block(pem: &[u8]) -> Result<(&str, Vec<u8>), KeyError> {
    let text = std::str::from_utf8(pem).map_err(|_| KeyError::Pem("not UTF-8 text".into()))?;
    let (_, after) = text
        .split_once("-----BEGIN ")
        .ok_or_else(|| KeyError::Pem("no \"-----BEGIN\" line".into()))?;
    let (label, body) = after
        .split_once("-----")
        .ok_or_else(|| KeyError::Pem("unterminated BEGIN line".into()))?;
    let end = format!("-----END {label}-----");
    let (body, _) = body
        .split_once(end.as_str())
        .ok_or_else(|| KeyError::Pem(format!("no {end:?} line")))?;
    if body.contains(':') {
        return Err(KeyError::Pem(
            "encrypted or annotated PEM is not supported".into(),
        ));
    }
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|_| KeyError::Pem("the body is not base64".into()))?;
    Ok((label, der))
}

/// A public key as found in SPKI, before checks.
enum PublicKey<'a> {
    /// PKCS#1 `RSAPublicKey` DER.
    Rsa(&'a [u8]),
    Ec(KeyFamily, &'a [u8]),
    Ed25519(&'a [u8]),
}

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const OID_ED448: &[u8] = &[0x2b, 0x65, 0x71];

/// One DER element: (tag, contents, what follows). Definite lengths only.
fn der_next(input: &[u8]) -> Result<(u8, &[u8], &[u8]), KeyError> {
    const TRUNCATED: KeyError = KeyError::Der("truncated");
    let (&tag, rest) = input.split_first().ok_or(TRUNCATED)?;
    let (&first, rest) = rest.split_first().ok_or(TRUNCATED)?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 3 {
            return Err(KeyError::Der("unsupported length encoding"));
        }
        let (bytes, rest) = rest.split_at_checked(n).ok_or(TRUNCATED)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    let (contents, rest) = rest.split_at_checked(len).ok_or(TRUNCATED)?;
    Ok((tag, contents, rest))
}

fn der_expect(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), KeyError> {
    match der_next(input)? {
        (t, contents, rest) if t == tag => Ok((contents, rest)),
        _ => Err(KeyError::Der("unexpected element")),
    }
}

/// SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
fn spki(der: &[u8]) -> Result<PublicKey<'_>, KeyError> {
    let (info, _) = der_expect(der, SEQUENCE)?;
    let (alg_id, rest) = der_expect(info, SEQUENCE)?;
    let (bits, _) = der_expect(rest, BIT_STRING)?;
    let key = match bits.split_first() {
        Some((0, key)) => key,
        _ => return Err(KeyError::Der("public key bit string")),
    };
    let (oid, params) = der_expect(alg_id, OID)?;
    match oid {
        OID_RSA => Ok(PublicKey::Rsa(key)),
        OID_EC => match der_expect(params, OID)?.0 {
            OID_P256 => Ok(PublicKey::Ec(KeyFamily::EcP256, key)),
            OID_P384 => Ok(PublicKey::Ec(KeyFamily::EcP384, key)),
            OID_P521 => Err(KeyError::UnsupportedKey("EC curve P-521".into())),
            _ => Err(KeyError::UnsupportedKey(
                "EC curve other than P-256 and P-384".into(),
            )),
        },
        OID_ED25519 => Ok(PublicKey::Ed25519(key)),
        OID_ED448 => Err(KeyError::UnsupportedKey("Ed448".into())),
        _ => Err(KeyError::UnsupportedKey(
            "key type other than RSA, EC and Ed25519".into(),
        )),
    }
}

/// The SPKI of an X.509 certificate: the 7th field of tbsCertificate
/// when the optional version is present, the 6th otherwise.
fn certificate_spki(der: &[u8]) -> Result<PublicKey<'_>, KeyError> {
    let (cert, _) = der_expect(der, SEQUENCE)?;
    let (tbs, _) = der_expect(cert, SEQUENCE)?;
    let mut rest = tbs;
    if let (0xa0, _, after) = der_next(rest)? {
        rest = after;
    }
    // serial, signature, issuer, validity, subject
    for _ in 0..5 {
        rest = der_next(rest)?.2;
    }
    let after = der_next(rest)?.2;
    let spki_der = rest
        .get(..rest.len() - after.len())
        .ok_or(KeyError::Der("certificate"))?;
    spki(spki_der)
}

/// PKCS#1 RSAPublicKey: SEQUENCE { n INTEGER, e INTEGER }.
fn rsa_der(der: &[u8]) -> Result<DecodingKey, KeyError> {
    let (seq, _) = der_expect(der, SEQUENCE)?;
    let (n, rest) = der_expect(seq, INTEGER)?;
    let (e, _) = der_expect(rest, INTEGER)?;
    if n.first().is_some_and(|b| b & 0x80 != 0) || e.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(KeyError::Der("negative RSA integer"));
    }
    rsa_components(n, e)
}
