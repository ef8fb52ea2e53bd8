//! Building verification keys: HMAC secrets, PEMs, JWKs and JWK sets, and
//! refusing every key that does not fit its algorithm or cannot verify.

// Helpers outside #[test] functions unwrap too: a test failing loudly is the point.
#![allow(clippy::unwrap_used)]

use gatehouse_auth::keys::{
    alg_name, parse_alg, parse_jwks, parse_jwks_report, Algorithm, KeyError, KeyFamily, VerifyKey,
};
use serde_json::{json, Value};

// Test keys made with `openssl genpkey` for these tests only.
const RSA_PUBLIC: &str = r"-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyGEFgEYQdvsoy/Xj1ymn
FLGR9AM/9cF1p3sG8OzS1IgvozyBjFwVJlhh8lgeJDcy3Qna8x4aW1opzAMCQcGI
IN4nhvjSiER1rYILDjScrlj+Mq0BpaVxfiJKKKf1LaxLgHGaIq2qRZgwSnFAbT25
VARRHcKzM6DC6le9Wse3fi1Ogq2P0n4gk8VylQEDm05JiJEL/n+YpbjZfOiEFKqI
fhf1Z4yerhsFTCZyRRnHTm8XzhIA4nODHwEGt6At9cYq915kHDbTS6w89TWeujYJ
3S/sPMFOrvRbM5sSvVbIfEEgwcSm2JwAfkRlnPikpTLKLYYh374pjgy9wb7Hli1+
NQIDAQAB
-----END PUBLIC KEY-----";
const RSA_1024: &str = r"-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQD5z+O/02CM1kaR16Y0kLj5Yaha
Eo/rVgo6RgPdGjJc2fWb3ipukw8iLVBDTjLAyfM0nU3YmDFz/8hBhPUWngxfIwwI
ECGFusbhWU6PWFEJBybWuIzgHrrDyogVhOZ6QNI4B70m00OWjmcBZCcWCAtvoP/0
QHy2nzOQOafd0kJVsQIDAQAB
-----END PUBLIC KEY-----";
const P256_PUBLIC: &str = r"-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETRPNl2MaOVh9WGLoAvn6QBAgdrnT
65cpA10htNIGZ2Lo9zGuRFV8I/T6mqvJPnH34pas8kvvVW8Kcxp084A01g==
-----END PUBLIC KEY-----";
const P256_PRIVATE: &str = r"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgrNAPwkxa6N3iWYE1
x5aX/EN4LTYvvuc4lx1PU/81OLGhRANCAARNE82XYxo5WH1YYugC+fpAECB2udPr
lykDXSG00gZnYuj3Ma5EVXwj9Pqaq8k+cffilqzyS+9VbwpzGnTzgDTW
-----END PRIVATE KEY-----";
const P384_PUBLIC: &str = r"-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEkYmTW7An9k+egawTrwM47+OPY9R23BGv
KizrC1Dc+idSVEU1Z/S94Hs2ZIOJhdrb09zWuCDpFM08Qnuk6qfW0Zxgx+6r3vuo
y9CMWqQeg53nJWla171xhZtdUOrVSlE3
-----END PUBLIC KEY-----";
const P521_PUBLIC: &str = r"-----BEGIN PUBLIC KEY-----
MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQBUbz7+i8KIjL/xC57HLf5h+NjAvLn
6ucJw1e+FSZC/HQgGH4ujQ90FYUgfng8JWtL6k7Cg0kLiPYU64trcjs1NLEApA0Z
2QDbFFlZR8C9lT76qU/pEQrTTE+Xu1CfZeXXjraY43tIw3Pb7Opug/FMPnpWawbd
Z9/ZsIiHHC8hIwzZ/kw=
-----END PUBLIC KEY-----";
const ED25519_PUBLIC: &str = r"-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAewTQ/lj3PE66IEIyF2XOe93Bh41+Gb7VQrOAq9KZfDI=
-----END PUBLIC KEY-----";
const ED448_PUBLIC: &str = r"-----BEGIN PUBLIC KEY-----
MEMwBQYDK2VxAzoAnvFiOnQpwIqODZFhVn7nnoaCRhTv6ka1hhNoyDIHp+w8CXeo
7AMeWOLu6i/hhOXRZzG74bM1d48A
-----END PUBLIC KEY-----";
const RSA_JWK: &str = r#"{"kty":"RSA","n":"yGEFgEYQdvsoy_Xj1ymnFLGR9AM_9cF1p3sG8OzS1IgvozyBjFwVJlhh8lgeJDcy3Qna8x4aW1opzAMCQcGIIN4nhvjSiER1rYILDjScrlj-Mq0BpaVxfiJKKKf1LaxLgHGaIq2qRZgwSnFAbT25VARRHcKzM6DC6le9Wse3fi1Ogq2P0n4gk8VylQEDm05JiJEL_n-YpbjZfOiEFKqIfhf1Z4yerhsFTCZyRRnHTm8XzhIA4nODHwEGt6At9cYq915kHDbTS6w89TWeujYJ3S_sPMFOrvRbM5sSvVbIfEEgwcSm2JwAfkRlnPikpTLKLYYh374pjgy9wb7Hli1-NQ","e":"AQAB"}"#;
const P256_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"TRPNl2MaOVh9WGLoAvn6QBAgdrnT65cpA10htNIGZ2I","y":"6PcxrkRVfCP0-pqryT5x9-KWrPJL71VvCnMadPOANNY"}"#;
const P384_JWK: &str = r#"{"kty":"EC","crv":"P-384","x":"kYmTW7An9k-egawTrwM47-OPY9R23BGvKizrC1Dc-idSVEU1Z_S94Hs2ZIOJhdrb","y":"09zWuCDpFM08Qnuk6qfW0Zxgx-6r3vuoy9CMWqQeg53nJWla171xhZtdUOrVSlE3"}"#;
const P521_JWK: &str = r#"{"kty":"EC","crv":"P-521","x":"AVG8-_ovCiIy_8Quexy3-YfjYwLy5-rnCcNXvhUmQvx0IBh-Lo0PdBWFIH54PCVrS-pOwoNJC4j2FOuLa3I7NTSx","y":"AKQNGdkA2xRZWUfAvZU--qlP6REK00xPl7tQn2Xl1462mON7SMNz2-zqboPxTD56VmsG3Wff2bCIhxwvISMM2f5M"}"#;
const ED25519_JWK: &str =
    r#"{"kty":"OKP","crv":"Ed25519","x":"ewTQ_lj3PE66IEIyF2XOe93Bh41-Gb7VQrOAq9KZfDI"}"#;
const P256_CERT: &str = r"-----BEGIN CERTIFICATE-----
MIIBiTCCAS+gAwIBAgIUGGLTp6QqBgJbQS25IyeX6vr14qQwCgYIKoZIzj0EAwIw
GTEXMBUGA1UEAwwOZ2F0ZWhvdXNlLXRlc3QwIBcNMjYxMTI4MDMyMjE5WhgPMjEy
NjExMDQwMzIyMTlaMBkxFzAVBgNVBAMMDmdhdGVob3VzZS10ZXN0MFkwEwYHKoZI
zj0CAQYIKoZIzj0DAQcDQgAEDgSDStpl4n6IoxpEnr5ZLl+ZEeIi2jbQ77eSAeQn
OzzVN7mw8UFWbt2YvX/InK8/5JIWtKXqHZERG37kXOOyVaNTMFEwHQYDVR0OBBYE
FG0oSB9j7qjZiSx/oKFgjo0bXg0nMB8GA1UdIwQYMBaAFG0oSB9j7qjZiSx/oKFg
jo0bXg0nMA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgf6SUeYcm
uqEXgRJFZSlinz5S4LUz88KW7aSlZFMLOFkCIQDSaYZurdkdKJSSEPWY/RbbhwCb
CwzpbpRcZeYqJWHeMw==
-----END CERTIFICATE-----";
const ED25519_CERT: &str = r"-----BEGIN CERTIFICATE-----
MIIBSDCB+6ADAgECAhRXC0pWfEE82I1GkVWhDJdVa4PBSjAFBgMrZXAwGTEXMBUG
A1UEAwwOZ2F0ZWhvdXNlLXRlc3QwIBcNMjYxMTI4MDMyMjE5WhgPMjEyNjExMDQw
MzIyMTlaMBkxFzAVBgNVBAMMDmdhdGVob3VzZS10ZXN0MCowBQYDK2VwAyEARVUi
FY1uNMa/aYlxr6QHvkNSLx9OjvjzPzvgnrH3J3CjUzBRMB0GA1UdDgQWBBRuW7ye
D6VVEv1ZO/zi+zGwSArEBjAfBgNVHSMEGDAWgBRuW7yeD6VVEv1ZO/zi+zGwSArE
BjAPBgNVHRMBAf8EBTADAQH/MAUGAytlcANBAIyAGwi+LniXQKpbDZWM2FNXYvE1
nNFYsueiLXjcJooCIpl2LGxa8QzPN5ZgWggpvHsRepndvnSKUsqUAwbxlw4=
-----END CERTIFICATE-----";

fn jwk(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// `base` with members added or replaced.
fn jwk_with(text: &str, extra: Value) -> Value {
    let mut v = jwk(text);
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

fn pem(alg: Algorithm, pem: &str) -> Result<VerifyKey, KeyError> {
    VerifyKey::from_pem(alg, pem.as_bytes())
}

fn mismatch(alg: Algorithm, key: KeyFamily) -> KeyError {
    KeyError::AlgorithmMismatch { alg, key }
}

#[test]
fn algorithm_names_round_trip_exactly() {
    for name in [
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
        "ES384", "EdDSA",
    ] {
        assert_eq!(alg_name(parse_alg(name).unwrap()), name);
    }
    for name in ["hs256", "none", "ES512", "ES521", "EDDSA", "", " RS256"] {
        assert_eq!(parse_alg(name), None, "{name}");
    }
}

#[test]
fn hmac_keys() {
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let k = VerifyKey::hmac(alg, b"secret").unwrap();
        assert_eq!((k.alg(), k.kid(), k.family()), (alg, None, KeyFamily::Hmac));
        let k = k.with_kid(Some("k1".into()));
        assert_eq!(k.kid(), Some("k1"));
        assert_eq!(k.with_kid(None).kid(), None);
    }
    assert_eq!(
        VerifyKey::hmac(Algorithm::HS256, b"").unwrap_err(),
        KeyError::EmptySecret
    );
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        assert_eq!(
            VerifyKey::hmac(alg, b"secret").unwrap_err(),
            mismatch(alg, KeyFamily::Hmac)
        );
    }
    // Debug output names the key, never its material.
    let shown = format!(
        "{:?}",
        VerifyKey::hmac(Algorithm::HS256, b"hunter2-hunter2").unwrap()
    );
    assert!(
        shown.contains("HS256") && !shown.contains("hunter2"),
        "{shown}"
    );
}

#[test]
fn pem_keys_of_each_kind() {
    for alg in [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ] {
        let k = pem(alg, RSA_PUBLIC).unwrap();
        assert_eq!((k.alg(), k.family(), k.kid()), (alg, KeyFamily::Rsa, None));
    }
    assert_eq!(
        pem(Algorithm::ES256, P256_PUBLIC).unwrap().family(),
        KeyFamily::EcP256
    );
    assert_eq!(
        pem(Algorithm::ES384, P384_PUBLIC).unwrap().family(),
        KeyFamily::EcP384
    );
    assert_eq!(
        pem(Algorithm::EdDSA, ED25519_PUBLIC).unwrap().family(),
        KeyFamily::Ed25519
    );
    // Certificates: the subject's key, whatever signed the certificate
    // (this Ed25519 one is self-signed, so Ed25519 OIDs come first).
    assert_eq!(
        pem(Algorithm::ES256, P256_CERT).unwrap().family(),
        KeyFamily::EcP256
    );
    assert_eq!(
        pem(Algorithm::EdDSA, ED25519_CERT).unwrap().family(),
        KeyFamily::Ed25519
    );
    assert_eq!(
        pem(Algorithm::ES384, P256_CERT).unwrap_err(),
        mismatch(Algorithm::ES384, KeyFamily::EcP256)
    );
    assert_eq!(
        pem(Algorithm::RS256, ED25519_CERT).unwrap_err(),
        mismatch(Algorithm::RS256, KeyFamily::Ed25519)
    );
    // Surrounding text and CRLF line ends are fine.
    let crlf = format!("# the IdP key\r\n{}\r\n", RSA_PUBLIC.replace('\n', "\r\n"));
    assert!(pem(Algorithm::RS256, &crlf).is_ok());
}

#[test]
fn pem_keys_must_fit_the_algorithm() {
    use Algorithm::*;
    for alg in [HS256, HS384, HS512] {
        for p in [RSA_PUBLIC, P256_PUBLIC, ED25519_PUBLIC] {
            assert_eq!(pem(alg, p).unwrap_err(), KeyError::HmacWithPublicKey(alg));
        }
    }
    let cases = [
        (ES256, P384_PUBLIC, KeyFamily::EcP384),
        (ES384, P256_PUBLIC, KeyFamily::EcP256),
        (RS256, P256_PUBLIC, KeyFamily::EcP256),
        (PS256, ED25519_PUBLIC, KeyFamily::Ed25519),
        (ES256, RSA_PUBLIC, KeyFamily::Rsa),
        (ES384, ED25519_PUBLIC, KeyFamily::Ed25519),
        (EdDSA, RSA_PUBLIC, KeyFamily::Rsa),
        (EdDSA, P256_PUBLIC, KeyFamily::EcP256),
    ];
    for (alg, p, family) in cases {
        assert_eq!(
            pem(alg, p).unwrap_err(),
            mismatch(alg, family),
            "{}",
            alg_name(alg)
        );
    }
    assert_eq!(
        pem(ES256, P384_PUBLIC).unwrap_err().to_string(),
        "algorithm ES256 cannot be used with an EC P-384 key (it needs an EC P-256 key)"
    );
}

#[test]
fn unusable_pems_are_refused() {
    let err = |alg, p: &str| pem(alg, p).unwrap_err();
    assert_eq!(err(Algorithm::ES256, P256_PRIVATE), KeyError::PrivateKeyPem);
    let pkcs1_private = P256_PRIVATE.replace("PRIVATE KEY", "RSA PRIVATE KEY");
    assert_eq!(
        err(Algorithm::RS256, &pkcs1_private),
        KeyError::PrivateKeyPem
    );
    assert_eq!(
        err(Algorithm::RS256, RSA_1024),
        KeyError::RsaModulusSize(1024)
    );
    assert!(
        matches!(err(Algorithm::ES256, P521_PUBLIC), KeyError::UnsupportedKey(m) if m.contains("P-521"))
    );
    assert!(
        matches!(err(Algorithm::EdDSA, ED448_PUBLIC), KeyError::UnsupportedKey(m) if m.contains("Ed448"))
    );
    for bad in [
        "",
        "not a pem",
        "-----BEGIN PUBLIC KEY-----\nAAAA",
        "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----",
    ] {
        assert!(
            matches!(err(Algorithm::RS256, bad), KeyError::Pem(_)),
            "{bad:?}"
        );
    }
    let other_label = RSA_PUBLIC.replace("PUBLIC KEY", "X509 CRL");
    assert!(
        matches!(err(Algorithm::RS256, &other_label), KeyError::Pem(m) if m.contains("X509 CRL"))
    );
    assert!(matches!(
        err(
            Algorithm::RS256,
            "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----"
        ),
        KeyError::Der(_)
    ));
    // Every truncation of the body fails cleanly.
    let body: String = RSA_PUBLIC
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    for cut in (0..body.len()).step_by(4) {
        let p = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            &body[..cut]
        );
        assert!(pem(Algorithm::RS256, &p).is_err());
    }
    assert!(VerifyKey::from_pem(Algorithm::RS256, b"\xff\xfe-----BEGIN").is_err());
}

#[test]
fn jwk_keys_of_each_kind() {
    let k = VerifyKey::from_jwk(
        &jwk_with(RSA_JWK, json!({"alg": "PS384", "kid": "r1"})),
        None,
    )
    .unwrap();
    assert_eq!(
        (k.alg(), k.kid(), k.family()),
        (Algorithm::PS384, Some("r1"), KeyFamily::Rsa)
    );
    let k = VerifyKey::from_jwk(&jwk(RSA_JWK), Some(Algorithm::RS512)).unwrap();
    assert_eq!(k.alg(), Algorithm::RS512);
    // The JWK's own alg wins over the fallback.
    let k = VerifyKey::from_jwk(
        &jwk_with(RSA_JWK, json!({"alg": "RS256"})),
        Some(Algorithm::PS256),
    )
    .unwrap();
    assert_eq!(k.alg(), Algorithm::RS256);

    let k = VerifyKey::from_jwk(&jwk(P256_JWK), None).unwrap();
    assert_eq!((k.alg(), k.family()), (Algorithm::ES256, KeyFamily::EcP256));
    let k = VerifyKey::from_jwk(&jwk(P384_JWK), Some(Algorithm::RS256)).unwrap();
    assert_eq!((k.alg(), k.family()), (Algorithm::ES384, KeyFamily::EcP384));
    let k = VerifyKey::from_jwk(&jwk(ED25519_JWK), None).unwrap();
    assert_eq!(
        (k.alg(), k.family()),
        (Algorithm::EdDSA, KeyFamily::Ed25519)
    );

    let oct = json!({"kty": "oct", "k": "c2VjcmV0LXNlY3JldA", "alg": "HS512", "use": "sig"});
    assert_eq!(
        VerifyKey::from_jwk(&oct, None).unwrap().alg(),
        Algorithm::HS512
    );
    let oct = json!({"kty": "oct", "k": "c2VjcmV0LXNlY3JldA"});
    assert_eq!(
        VerifyKey::from_jwk(&oct, Some(Algorithm::HS256))
            .unwrap()
            .alg(),
        Algorithm::HS256
    );
    assert_eq!(
        VerifyKey::from_jwk(&oct, None).unwrap_err(),
        KeyError::MissingAlg("oct")
    );
    assert_eq!(
        VerifyKey::from_jwk(&jwk(RSA_JWK), None).unwrap_err(),
        KeyError::MissingAlg("RSA")
    );

    // Private members are ignored; only the public part is used.
    let private = jwk_with(
        P256_JWK,
        json!({"d": "AAAA", "alg": "ES256", "key_ops": ["sign", "verify"]}),
    );
    assert_eq!(
        VerifyKey::from_jwk(&private, None).unwrap().alg(),
        Algorithm::ES256
    );
    // A modulus with a leading zero byte is the same number.
    let mut padded = jwk(RSA_JWK);
    let n = padded["n"].as_str().unwrap().to_string();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut bytes = vec![0u8];
    bytes.extend(b64.decode(&n).unwrap());
    padded["n"] = json!(b64.encode(bytes));
    assert!(VerifyKey::from_jwk(&padded, Some(Algorithm::RS256)).is_ok());
}

#[test]
fn jwks_must_fit_and_be_for_signatures() {
    let err = |v: Value, fallback| VerifyKey::from_jwk(&v, fallback).unwrap_err();
    use Algorithm::*;
    assert_eq!(
        err(jwk_with(P384_JWK, json!({"alg": "ES256"})), None),
        mismatch(ES256, KeyFamily::EcP384)
    );
    assert_eq!(
        err(jwk_with(RSA_JWK, json!({"alg": "ES256"})), None),
        mismatch(ES256, KeyFamily::Rsa)
    );
    assert_eq!(
        err(jwk_with(RSA_JWK, json!({"alg": "HS256"})), None),
        mismatch(HS256, KeyFamily::Rsa)
    );
    assert_eq!(
        err(jwk_with(P256_JWK, json!({"alg": "RS256"})), None),
        mismatch(RS256, KeyFamily::EcP256)
    );
    assert_eq!(
        err(jwk(RSA_JWK), Some(ES256)),
        mismatch(ES256, KeyFamily::Rsa)
    );
    assert_eq!(
        err(json!({"kty": "oct", "k": "c2VjcmV0"}), Some(RS256)),
        mismatch(RS256, KeyFamily::Hmac)
    );
    assert_eq!(
        err(json!({"kty": "oct", "k": ""}), Some(HS256)),
        KeyError::EmptySecret
    );
    assert_eq!(
        err(jwk_with(ED25519_JWK, json!({"alg": "ES256"})), None),
        mismatch(ES256, KeyFamily::Ed25519)
    );

    for extra in [
        json!({"use": "enc"}),
        json!({"use": 1}),
        json!({"key_ops": ["encrypt"]}),
        json!({"key_ops": ["sign"]}),
        json!({"key_ops": "verify"}),
        json!({"key_ops": []}),
    ] {
        assert!(
            matches!(
                err(jwk_with(P256_JWK, extra.clone()), None),
                KeyError::NotForSignatures(_)
            ),
            "{extra}"
        );
    }
    assert!(VerifyKey::from_jwk(
        &jwk_with(P256_JWK, json!({"use": "sig", "key_ops": ["verify"]})),
        None
    )
    .is_ok());

    assert_eq!(
        err(jwk_with(P256_JWK, json!({"alg": "ES521"})), None),
        KeyError::UnsupportedAlg("ES521".into())
    );
    assert_eq!(
        err(jwk_with(P256_JWK, json!({"alg": "none"})), None),
        KeyError::UnsupportedAlg("none".into())
    );
    assert!(matches!(err(jwk(P521_JWK), None), KeyError::UnsupportedKey(m) if m.contains("P-521")));
    assert!(matches!(
        err(json!({"kty": "OKP", "crv": "X25519", "x": "AAAA"}), None),
        KeyError::UnsupportedKey(_)
    ));
    assert!(matches!(
        err(json!({"kty": "RSA-PSS"}), None),
        KeyError::UnsupportedKey(_)
    ));
    for bad in [
        json!("RSA"),
        json!([]),
        json!({}),
        json!({"kty": 1}),
        json!({"kty": "EC", "crv": "P-256"}),
        jwk_with(P256_JWK, json!({"kid": 7})),
        jwk_with(P256_JWK, json!({"alg": 256})),
        jwk_with(P256_JWK, json!({"x": "not base64!"})),
    ] {
        assert!(matches!(err(bad.clone(), None), KeyError::Jwk(_)), "{bad}");
    }
    // Coordinates of the wrong size (also when their sum is right), an
    // Ed25519 key of the wrong size.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let coord = |name: &str| b64.decode(jwk(P256_JWK)[name].as_str().unwrap()).unwrap();
    let (x, y) = (coord("x"), coord("y"));
    let shifted = json!({"x": b64.encode(&x[..31]), "y": b64.encode([&x[31..], &y[..]].concat())});
    assert!(matches!(
        err(jwk_with(P256_JWK, shifted), None),
        KeyError::InvalidKey(_)
    ));
    assert!(matches!(
        err(jwk_with(P256_JWK, json!({"x": "AAAA"})), None),
        KeyError::InvalidKey(_)
    ));
    let p384 = jwk(P384_JWK);
    assert!(matches!(
        err(
            jwk_with(P256_JWK, json!({"x": p384["x"], "y": p384["y"]})),
            None
        ),
        KeyError::InvalidKey(_)
    ));
    assert!(matches!(
        err(json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}), None),
        KeyError::InvalidKey(_)
    ));
    // RSA sizes and exponents ring cannot verify with.
    let rsa = |n: &str, e: &str| err(json!({"kty": "RSA", "n": n, "e": e}), Some(RS256));
    let n = jwk(RSA_JWK)["n"].as_str().unwrap().to_string();
    let short = b64.encode(&b64.decode(&n).unwrap()[..128]);
    assert_eq!(rsa(&short, "AQAB"), KeyError::RsaModulusSize(1024));
    for e in ["AQ", "Ag", "AA", "AQAA", "AQAAAAAB"] {
        assert_eq!(rsa(&n, e), KeyError::RsaExponent, "{e}");
    }
}

#[test]
fn jwk_sets_keep_usable_keys_and_report_the_rest() {
    let set = json!({"keys": [
        jwk_with(RSA_JWK, json!({"kid": "rsa", "alg": "RS256", "use": "sig"})),
        jwk_with(P256_JWK, json!({"kid": "ec"})),
        jwk_with(P256_JWK, json!({"kid": "enc", "use": "enc"})),
        {"kid": "x", "kty": "OKP", "crv": "X25519", "x": "AAAA"},
        {"kid": "secret", "kty": "oct", "k": "c2VjcmV0"},
        jwk_with(ED25519_JWK, json!({"kid": "ed"})),
        "garbage",
        jwk(RSA_JWK),
    ]});
    let text = set.to_string();
    let keys = parse_jwks(text.as_bytes(), Some(Algorithm::PS256)).unwrap();
    let summary: Vec<_> = keys.iter().map(|k| (k.kid(), k.alg())).collect();
    assert_eq!(
        summary,
        [
            (Some("rsa"), Algorithm::RS256),
            (Some("ec"), Algorithm::ES256),
            (Some("ed"), Algorithm::EdDSA),
            (None, Algorithm::PS256),
        ]
    );
    let report = parse_jwks_report(text.as_bytes(), Some(Algorithm::PS256)).unwrap();
    let skipped: Vec<_> = report
        .skipped
        .iter()
        .map(|s| (s.index, s.kid.as_deref()))
        .collect();
    assert_eq!(
        skipped,
        [
            (2, Some("enc")),
            (3, Some("x")),
            (4, Some("secret")),
            (6, None)
        ]
    );
    assert_eq!(
        report.skipped[2].error,
        mismatch(Algorithm::PS256, KeyFamily::Hmac)
    );
    // Without a fallback the RSA key without alg is skipped too.
    let report = parse_jwks_report(text.as_bytes(), None).unwrap();
    assert_eq!(report.keys.len(), 3);
    assert_eq!(
        report.skipped.last().unwrap().error,
        KeyError::MissingAlg("RSA")
    );

    assert!(parse_jwks(br#"{"keys": []}"#, None).unwrap().is_empty());
    for bad in [
        &b""[..],
        b"[]",
        b"{}",
        b"null",
        br#"{"keys": {}}"#,
        br#"{"keys": "x"}"#,
        br#"{"keys": [}"#,
        b"\xff",
    ] {
        assert!(
            matches!(parse_jwks(bad, None), Err(KeyError::NotAJwks(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn error_messages_are_specific() {
    let cases = [
        (KeyError::EmptySecret, "the HMAC secret is empty"),
        (
            KeyError::HmacWithPublicKey(Algorithm::HS256),
            "algorithm HS256 is HMAC and needs a shared secret, not a public key PEM",
        ),
        (
            KeyError::PrivateKeyPem,
            "the PEM holds a private key; configure the public key instead",
        ),
        (
            KeyError::RsaModulusSize(1024),
            "RSA key of 1024 bits; only 2048 to 8192 bits are accepted",
        ),
        (
            KeyError::MissingAlg("RSA"),
            "the RSA JWK has no \"alg\" and no default algorithm is configured",
        ),
        (
            mismatch(Algorithm::RS256, KeyFamily::Hmac),
            "algorithm RS256 cannot be used with an HMAC secret (it needs an RSA key)",
        ),
    ];
    for (e, text) in cases {
        assert_eq!(e.to_string(), text);
    }
    let e = VerifyKey::from_jwk(&jwk_with(P256_JWK, json!({"use": "enc"})), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the JWK is not for signatures: \"use\" is \"enc\""
    );
}
