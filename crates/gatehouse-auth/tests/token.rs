//! Parsing and signature checks: a token signed for every algorithm
//! verifies, and fails once tampered with, with another key or with
//! another `alg`; headers and encodings we refuse are refused.

// Helpers outside #[test] functions unwrap too: a test failing loudly is the point.
#![allow(clippy::unwrap_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use gatehouse_auth::keys::Algorithm::{self, *};
use gatehouse_auth::keys::{alg_name, KeyFamily, VerifyKey};
use gatehouse_auth::token::{self, parse, parse_jws, verify_signature, SignatureError, TokenError};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};

// Test keys made with `openssl genpkey` for these tests only.
const RSA_PRIVATE: &str = r"-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCpplZpWGjqtPMV
N4eSYM7+FAy1+/Jz5SoQHfRgFWLaeAIVcgyEvkPgVp5HyYZb1m8K/t3dwfO66jB0
WmchIe6eFVwNKfLvFtA0Pcr2YPldGswxi3Zie3zpnjOZu2NrPaWrk2zBh/Ddzane
DHWcTSJPZNOPnD33Lwf3TYhC06PKp00xjc3+oSFWCnsA1fku3yJe0E/8602JBWWB
EmfGU5gTnDxLvZ1AnH1mcIkqD5lSvtINiSbGTzLVavLesE5TSSV+kAastxLRk5/o
Tso0jVBQOwKPnNeZDwDCMKIvyf9NzdIt7rhwjqAqo2eTrzqXk8hR4/sXVQK5ODkz
opY5MalNAgMBAAECggEAAujtRhaQiy57y6OUTHVLlD901++6sCcNzOjCaXWZgCdH
BGYZIYCyYSPbNDYfHMzIDLT4GyX0m4kW50FFSUIzNlCfQ+UQaO5H+uXVsyuG23At
6lYp8VoTahqe/GE2+cIiGCw/s4NdF6hu5E2AF1pWtr1Gn+gUKG9x+Yiti3BQnb3z
n4IgpwLznRdvGFms7qLvDEgNeh83X0SIUzJBvY+oSP7wnZxKzENc2RzbTCdaGgMP
yV0tYfo0QELYlTcN7dzhKn9pnghTjIXLF3U1wuwVegNhw1SVuK9VGNlxWjaPo3zb
i4RQjuf/enV1fCHpu2SP2pNR6iKrBEwDMCGcGQQnmQKBgQDaP/aZoVzZvUQf2F75
aSdG1xzZB/1cuHcGgoRy0NYu7QmyByirZa78i6TCu56NyxWuX9iKS/SVlGgWG2N0
/oHh+vzwn5nYwdYX6kikVOXc6cOG/eV/ppTIqhav2F7p5hgOuBNAh61BXSbJ7GO4
cF/E/FG57l5NszlUQibr+lK1FwKBgQDG/mBwcXIXmC06AW4mIPy618HtUOvHTeeq
KUjSvneAKL0VX6GtSbDpeza97k5ARRzHk2+9cMmHqzjlPDP+KNIg64Gn8/rl3of+
Oe8Yuw9HoPSStUKAuPe3OceCCawCpc4ZlFWEpgnwker/Pef1Wq04fEhtm9mbJ0Ak
8MYkh4ubOwKBgGs6d+c9T4gvJDRdMzRpBIIamDLNaR7QBrKtF3PtxP2jOls8hy/G
srWjylxen+TcfZeBwbsY3F9NXeJWrIPDs36auQFj+Mt1WMHBOtV6XMEwHP/K6KHR
71Gzt5fHv8I9aV559AOFZYsywCb/PHNWysbWjTTDt5OHVchfBA52m4IbAoGBAJj8
noY0IcQUAclTqix0NfkrwXNDQFHVCiNfZBZpypPkPiJ9iF4ihnmqedahrNVqjQq+
xix91uKP98j9dPeUyJ/4j5DhWWZ6pFEGl1SLE9881msoIb229vON312RNAZBFOfD
i8/Um1WxyVp8bKXMFdqUalaieDT5gy4jUiJpdyJbAoGBAM7bGmaK+kP96zYhVxmf
zNC9b4nDDBCxY/+DIoT3ymCJ3f8Yfe8p4EimpRPBeFH7KcWsI+knrayP0kdTtsZU
3pBKy+DM6lc0JWiqIPGNRiM/v+nMp6LrH5uadnw8TvXY6lj7QJMYAyikEntd8OnR
O7vAem5G1abaZlp9vrXYEwS+
-----END PRIVATE KEY-----";
const RSA_PUBLIC: &str = r"-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqaZWaVho6rTzFTeHkmDO
/hQMtfvyc+UqEB30YBVi2ngCFXIMhL5D4FaeR8mGW9ZvCv7d3cHzuuowdFpnISHu
nhVcDSny7xbQND3K9mD5XRrMMYt2Ynt86Z4zmbtjaz2lq5NswYfw3c2p3gx1nE0i
T2TTj5w99y8H902IQtOjyqdNMY3N/qEhVgp7ANX5Lt8iXtBP/OtNiQVlgRJnxlOY
E5w8S72dQJx9ZnCJKg+ZUr7SDYkmxk8y1Wry3rBOU0klfpAGrLcS0ZOf6E7KNI1Q
UDsCj5zXmQ8AwjCiL8n/Tc3SLe64cI6gKqNnk686l5PIUeP7F1UCuTg5M6KWOTGp
TQIDAQAB
-----END PUBLIC KEY-----";
const RSA_PKCS1: &str = r"-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAqaZWaVho6rTzFTeHkmDO/hQMtfvyc+UqEB30YBVi2ngCFXIMhL5D
4FaeR8mGW9ZvCv7d3cHzuuowdFpnISHunhVcDSny7xbQND3K9mD5XRrMMYt2Ynt8
6Z4zmbtjaz2lq5NswYfw3c2p3gx1nE0iT2TTj5w99y8H902IQtOjyqdNMY3N/qEh
Vgp7ANX5Lt8iXtBP/OtNiQVlgRJnxlOYE5w8S72dQJx9ZnCJKg+ZUr7SDYkmxk8y
1Wry3rBOU0klfpAGrLcS0ZOf6E7KNI1QUDsCj5zXmQ8AwjCiL8n/Tc3SLe64cI6g
KqNnk686l5PIUeP7F1UCuTg5M6KWOTGpTQIDAQAB
-----END RSA PUBLIC KEY-----";
const RSA_CERT: &str = r"-----BEGIN CERTIFICATE-----
MIIDFTCCAf2gAwIBAgIUQC4QTjTXnCtQ7ZD13zH1i70Zb+IwDQYJKoZIhvcNAQEL
BQAwGTEXMBUGA1UEAwwOZ2F0ZWhvdXNlLXRlc3QwIBcNMjYxMTI4MDMyMjE5WhgP
MjEyNjExMDQwMzIyMTlaMBkxFzAVBgNVBAMMDmdhdGVob3VzZS10ZXN0MIIBIjAN
BgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqaZWaVho6rTzFTeHkmDO/hQMtfvy
c+UqEB30YBVi2ngCFXIMhL5D4FaeR8mGW9ZvCv7d3cHzuuowdFpnISHunhVcDSny
7xbQND3K9mD5XRrMMYt2Ynt86Z4zmbtjaz2lq5NswYfw3c2p3gx1nE0iT2TTj5w9
9y8H902IQtOjyqdNMY3N/qEhVgp7ANX5Lt8iXtBP/OtNiQVlgRJnxlOYE5w8S72d
QJx9ZnCJKg+ZUr7SDYkmxk8y1Wry3rBOU0klfpAGrLcS0ZOf6E7KNI1QUDsCj5zX
mQ8AwjCiL8n/Tc3SLe64cI6gKqNnk686l5PIUeP7F1UCuTg5M6KWOTGpTQIDAQAB
o1MwUTAdBgNVHQ4EFgQUhdp2jcjuh4PRbU7WOVv2cMmodoMwHwYDVR0jBBgwFoAU
hdp2jcjuh4PRbU7WOVv2cMmodoMwDwYDVR0TAQH/BAUwAwEB/zANBgkqhkiG9w0B
AQsFAAOCAQEADTLk0YBQlk/xluR+kHQYe+Eb5uCWc+hy6VdP/yt3k5OEAf07z05J
yD2ViPP8uZb+TIR662KtBNgKqkz0ZVA8IlgugUtP/GD+50ajfrBWudEO63KCGYk2
lKM/lvFSJRumYy90paJY2UzjJKG0Mi5qwCRQHIZK0+3z9mRcAT9R5c7vPbedDduc
ebznSOrzpjlsCV02nFVfHUSFn949bt064uFVx0ix1WvUXx9sw0K6UBTfRuVUWsvh
ApI6g7TOWXMA3T1EING/9DeaSV6XcHkZwA2/GburMNC0kYpzouZOYwVwf58ujsP7
xVIipfrMVxtX9a3ZFbKBTklBKaCLk5cNGw==
-----END CERTIFICATE-----";
const RSA_JWK: &str = r#"{"kty":"RSA","n":"qaZWaVho6rTzFTeHkmDO_hQMtfvyc-UqEB30YBVi2ngCFXIMhL5D4FaeR8mGW9ZvCv7d3cHzuuowdFpnISHunhVcDSny7xbQND3K9mD5XRrMMYt2Ynt86Z4zmbtjaz2lq5NswYfw3c2p3gx1nE0iT2TTj5w99y8H902IQtOjyqdNMY3N_qEhVgp7ANX5Lt8iXtBP_OtNiQVlgRJnxlOYE5w8S72dQJx9ZnCJKg-ZUr7SDYkmxk8y1Wry3rBOU0klfpAGrLcS0ZOf6E7KNI1QUDsCj5zXmQ8AwjCiL8n_Tc3SLe64cI6gKqNnk686l5PIUeP7F1UCuTg5M6KWOTGpTQ","e":"AQAB"}"#;
const RSA_OTHER: &str = r"-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyGEFgEYQdvsoy/Xj1ymn
FLGR9AM/9cF1p3sG8OzS1IgvozyBjFwVJlhh8lgeJDcy3Qna8x4aW1opzAMCQcGI
IN4nhvjSiER1rYILDjScrlj+Mq0BpaVxfiJKKKf1LaxLgHGaIq2qRZgwSnFAbT25
VARRHcKzM6DC6le9Wse3fi1Ogq2P0n4gk8VylQEDm05JiJEL/n+YpbjZfOiEFKqI
fhf1Z4yerhsFTCZyRRnHTm8XzhIA4nODHwEGt6At9cYq915kHDbTS6w89TWeujYJ
3S/sPMFOrvRbM5sSvVbIfEEgwcSm2JwAfkRlnPikpTLKLYYh374pjgy9wb7Hli1+
NQIDAQAB
-----END PUBLIC KEY-----";
const P256_PRIVATE: &str = r"-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgfJurqrtgQBL5O5sH
U0e0pQIftYmaB0giXzmzLa+L0POhRANCAAQOBINK2mXifoijGkSevlkuX5kR4iLa
NtDvt5IB5Cc7PNU3ubDxQVZu3Zi9f8icrz/kkha0peodkREbfuRc47JV
-----END PRIVATE KEY-----";
const P256_PUBLIC: &str = r"-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEDgSDStpl4n6IoxpEnr5ZLl+ZEeIi
2jbQ77eSAeQnOzzVN7mw8UFWbt2YvX/InK8/5JIWtKXqHZERG37kXOOyVQ==
-----END PUBLIC KEY-----";
const P256_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"DgSDStpl4n6IoxpEnr5ZLl-ZEeIi2jbQ77eSAeQnOzw","y":"1Te5sPFBVm7dmL1_yJyvP-SSFrSl6h2RERt-5FzjslU"}"#;
const P256_OTHER: &str = r"-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETRPNl2MaOVh9WGLoAvn6QBAgdrnT
65cpA10htNIGZ2Lo9zGuRFV8I/T6mqvJPnH34pas8kvvVW8Kcxp084A01g==
-----END PUBLIC KEY-----";
const P384_PRIVATE: &str = r"-----BEGIN PRIVATE KEY-----
MIG2AgEAMBAGByqGSM49AgEGBSuBBAAiBIGeMIGbAgEBBDDio/aff9mPDwLBwl9Q
xWXMfpGdh2DX0GyDyFhAAFTMntGY0RpLnkwT9MvKXvA3bjGhZANiAAQO6bvqHL40
k9wT6mcAgb9JVFP9dal++cDPdALGYEK8w6qiFnAeZeKK5u9+OvP7HJMNjutK5uML
h/rRXthAiGkzo03XW+iD1kT13ZwWm4C83iyvGxeR6kjAZs9Y16weLAU=
-----END PRIVATE KEY-----";
const P384_PUBLIC: &str = r"-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEDum76hy+NJPcE+pnAIG/SVRT/XWpfvnA
z3QCxmBCvMOqohZwHmXiiubvfjrz+xyTDY7rSubjC4f60V7YQIhpM6NN11vog9ZE
9d2cFpuAvN4srxsXkepIwGbPWNesHiwF
-----END PUBLIC KEY-----";
const P384_JWK: &str = r#"{"kty":"EC","crv":"P-384","x":"Dum76hy-NJPcE-pnAIG_SVRT_XWpfvnAz3QCxmBCvMOqohZwHmXiiubvfjrz-xyT","y":"DY7rSubjC4f60V7YQIhpM6NN11vog9ZE9d2cFpuAvN4srxsXkepIwGbPWNesHiwF"}"#;
const P384_OTHER: &str = r"-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEkYmTW7An9k+egawTrwM47+OPY9R23BGv
KizrC1Dc+idSVEU1Z/S94Hs2ZIOJhdrb09zWuCDpFM08Qnuk6qfW0Zxgx+6r3vuo
y9CMWqQeg53nJWla171xhZtdUOrVSlE3
-----END PUBLIC KEY-----";
const ED25519_PRIVATE: &str = r"-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIAJ+Q9opCoNv3/eM/4VbVx3z5YQ67/YZXzEPZJbToIfB
-----END PRIVATE KEY-----";
const ED25519_PUBLIC: &str = r"-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEARVUiFY1uNMa/aYlxr6QHvkNSLx9OjvjzPzvgnrH3J3A=
-----END PUBLIC KEY-----";
const ED25519_JWK: &str =
    r#"{"kty":"OKP","crv":"Ed25519","x":"RVUiFY1uNMa_aYlxr6QHvkNSLx9OjvjzPzvgnrH3J3A"}"#;
const ED25519_OTHER: &str = r"-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAewTQ/lj3PE66IEIyF2XOe93Bh41+Gb7VQrOAq9KZfDI=
-----END PUBLIC KEY-----";

const SECRET: &[u8] = b"a-32-byte-secret-for-hmac-tests!";
const OTHER_SECRET: &[u8] = b"another-secret-of-thirty-two-b!!";

const ALL: [Algorithm; 12] = [
    HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA,
];

/// (signing key, verification key, a key of the same kind that did not sign).
fn keys(alg: Algorithm) -> (EncodingKey, VerifyKey, VerifyKey) {
    let (private, public, other) = match KeyFamily::of(alg) {
        KeyFamily::Hmac => {
            let key = |s| VerifyKey::hmac(alg, s).unwrap();
            return (
                EncodingKey::from_secret(SECRET),
                key(SECRET),
                key(OTHER_SECRET),
            );
        }
        KeyFamily::Rsa => (RSA_PRIVATE, RSA_PUBLIC, RSA_OTHER),
        KeyFamily::EcP256 => (P256_PRIVATE, P256_PUBLIC, P256_OTHER),
        KeyFamily::EcP384 => (P384_PRIVATE, P384_PUBLIC, P384_OTHER),
        KeyFamily::Ed25519 => (ED25519_PRIVATE, ED25519_PUBLIC, ED25519_OTHER),
    };
    let encoding = match KeyFamily::of(alg) {
        KeyFamily::Rsa => EncodingKey::from_rsa_pem(private.as_bytes()),
        KeyFamily::Ed25519 => EncodingKey::from_ed_pem(private.as_bytes()),
        _ => EncodingKey::from_ec_pem(private.as_bytes()),
    };
    let pem = |p: &str| VerifyKey::from_pem(alg, p.as_bytes()).unwrap();
    (encoding.unwrap(), pem(public), pem(other))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with exactly this header, signed with `alg`.
fn signed(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{sig}")
}

fn claims() -> Value {
    json!({"sub": "alice", "iss": "gatehouse-tests", "exp": 4102444800u64})
}

const INVALID: Result<(), &str> = Err("Invalid");
const MISMATCH: Result<(), &str> = Err("AlgorithmMismatch");

/// Parses and verifies, as the policy layer does.
fn check(token: &str, key: &VerifyKey) -> Result<(), &'static str> {
    let t = parse(token).map_err(|_| "parse")?;
    verify_signature(&t, key).map_err(|e| match e {
        SignatureError::Invalid => "Invalid",
        SignatureError::AlgorithmMismatch => "AlgorithmMismatch",
    })
}

fn with_signature(token: &str, sig: &[u8]) -> String {
    let (input, _) = token.rsplit_once('.').unwrap();
    format!("{input}.{}", b64(sig))
}

fn signature_bytes(token: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(token.rsplit_once('.').unwrap().1)
        .unwrap()
}

#[test]
fn every_algorithm_verifies_and_detects_tampering() {
    for alg in ALL {
        let name = alg_name(alg);
        let (enc, key, other) = keys(alg);
        let mut header = Header::new(alg);
        header.kid = Some("k1".into());
        let token = jsonwebtoken::encode(&header, &claims(), &enc).unwrap();

        let t = parse(&token).unwrap();
        assert_eq!(t.header.alg, name);
        assert_eq!(t.header.kid.as_deref(), Some("k1"));
        assert_eq!(t.header.typ.as_deref(), Some("JWT"));
        assert_eq!(t.claims.get("sub"), Some(&json!("alice")));
        assert_eq!(verify_signature(&t, &key), Ok(()), "{name}");

        // Any flipped signature bit, first and last byte.
        let sig = signature_bytes(&token);
        for i in [0, sig.len() - 1] {
            let mut bad = sig.clone();
            bad[i] ^= 0x01;
            let forged = with_signature(&token, &bad);
            assert_eq!(check(&forged, &key), INVALID, "{name} byte {i}");
        }
        // Another key of the same kind.
        assert_eq!(
            verify_signature(&t, &other),
            Err(SignatureError::Invalid),
            "{name}"
        );
        // Tampered claims under the original signature.
        let (h, rest) = token.split_once('.').unwrap();
        let (_, s) = rest.split_once('.').unwrap();
        let evil = b64(json!({"sub": "mallory"}).to_string().as_bytes());
        assert_eq!(check(&format!("{h}.{evil}.{s}"), &key), INVALID);
    }
}

#[test]
fn header_alg_must_be_the_keys_algorithm() {
    for alg in ALL {
        let (enc, key, _) = keys(alg);
        for other in ALL.into_iter().filter(|o| *o != alg) {
            // Claims a different algorithm; signed the way the header says
            // when that is possible with this key, garbage otherwise.
            let header = json!({"alg": alg_name(other), "typ": "JWT"});
            let token = if KeyFamily::of(other) == KeyFamily::of(alg) {
                signed(&header, &claims(), &enc, other)
            } else {
                let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(b"{}"));
                format!("{input}.{}", b64(&[7u8; 64]))
            };
            assert_eq!(
                check(&token, &key),
                MISMATCH,
                "{} token, {} key",
                alg_name(other),
                alg_name(alg)
            );
        }
        // The comparison is exact: no case folding.
        let lower = signed(
            &json!({"alg": alg_name(alg).to_lowercase()}),
            &claims(),
            &enc,
            alg,
        );
        assert_eq!(check(&lower, &key), MISMATCH);
    }
}

#[test]
fn same_key_material_pinned_to_another_algorithm_refuses() {
    let enc = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    let token = signed(&json!({"alg": "RS256"}), &claims(), &enc, RS256);
    let ps256 = VerifyKey::from_pem(PS256, RSA_PUBLIC.as_bytes()).unwrap();
    assert_eq!(check(&token, &ps256), MISMATCH);
}

#[test]
fn hmac_signed_with_the_public_key_is_refused() {
    // The classic confusion: HS256 keyed with the RSA public key's PEM text.
    let forger = EncodingKey::from_secret(RSA_PUBLIC.as_bytes());
    let token = signed(&json!({"alg": "HS256"}), &claims(), &forger, HS256);
    let rsa = VerifyKey::from_pem(RS256, RSA_PUBLIC.as_bytes()).unwrap();
    assert_eq!(check(&token, &rsa), MISMATCH);
    assert!(VerifyKey::from_pem(HS256, RSA_PUBLIC.as_bytes()).is_err());
}

#[test]
fn every_public_key_form_verifies_the_same_token() {
    let jwk = |text: &str, fallback| {
        VerifyKey::from_jwk(&serde_json::from_str(text).unwrap(), fallback).unwrap()
    };
    let rsa = |pem: &str| VerifyKey::from_pem(RS256, pem.as_bytes()).unwrap();
    let cases = [
        (
            RS256,
            vec![rsa(RSA_PKCS1), rsa(RSA_CERT), jwk(RSA_JWK, Some(RS256))],
        ),
        (ES256, vec![jwk(P256_JWK, None)]),
        (ES384, vec![jwk(P384_JWK, None)]),
        (EdDSA, vec![jwk(ED25519_JWK, None)]),
    ];
    for (alg, forms) in cases {
        let token = signed(&json!({"alg": alg_name(alg)}), &claims(), &keys(alg).0, alg);
        for key in &forms {
            assert_eq!(key.alg(), alg);
            assert_eq!(check(&token, key), Ok(()), "{} {key:?}", alg_name(alg));
        }
    }
}

/// DER encoding of ECDSA (r, s), which JOSE does not use.
fn der_signature(fixed: &[u8]) -> Vec<u8> {
    let int = |b: &[u8]| {
        let b: Vec<u8> = b.iter().copied().skip_while(|x| *x == 0).collect();
        let mut v = vec![0x02];
        let pad = b.first().is_some_and(|x| x & 0x80 != 0);
        v.push((b.len() + usize::from(pad)) as u8);
        if pad {
            v.push(0);
        }
        v.extend(b);
        v
    };
    let (r, s) = fixed.split_at(fixed.len() / 2);
    let body = [int(r), int(s)].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

#[test]
fn ecdsa_needs_the_fixed_size_form() {
    const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    let n: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&P256_N[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    for alg in [ES256, ES384] {
        let (enc, key, _) = keys(alg);
        let token = signed(&json!({"alg": alg_name(alg)}), &claims(), &enc, alg);
        let sig = signature_bytes(&token);
        assert_eq!(sig.len(), if alg == ES256 { 64 } else { 96 });
        let mut longer = sig.clone();
        longer.push(0);
        let mut shorter_r = vec![0u8];
        shorter_r.extend(&sig);
        for bad in [
            der_signature(&sig),
            longer,
            shorter_r,
            sig[..sig.len() - 1].to_vec(),
            vec![],
        ] {
            let t = with_signature(&token, &bad);
            assert!(check(&t, &key).is_err(), "{} {bad:?}", alg_name(alg));
        }
    }
    // r or s of 0 or n on P-256.
    let (enc, key, _) = keys(ES256);
    let token = signed(&json!({"alg": "ES256"}), &claims(), &enc, ES256);
    let sig = signature_bytes(&token);
    let (r, s) = sig.split_at(32);
    let zero = [0u8; 32];
    for (r, s) in [
        (&zero[..], s),
        (r, &zero[..]),
        (&n[..], s),
        (r, &n[..]),
        (&zero[..], &zero[..]),
    ] {
        let t = with_signature(&token, &[r, s].concat());
        assert_eq!(check(&t, &key), INVALID);
    }
}

fn token_with_header(header: &Value) -> String {
    let (enc, _, _) = keys(HS256);
    signed(header, &claims(), &enc, HS256)
}

#[test]
fn alg_none_is_refused_in_any_spelling() {
    let body = b64(claims().to_string().as_bytes());
    for alg in ["none", "None", "NONE", "nOnE", "noNe", " none", "none "] {
        let h = b64(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
        for sig in ["", "AAAA", "c2lnbmF0dXJl"] {
            let t = format!("{h}.{body}.{sig}");
            assert_eq!(parse(&t).unwrap_err(), TokenError::AlgNone, "{t}");
            assert_eq!(parse_jws(&t).unwrap_err(), TokenError::AlgNone);
        }
    }
}

#[test]
fn headers_that_carry_keys_or_extensions_are_refused() {
    let jwk: Value = serde_json::from_str(P256_JWK).unwrap();
    for (name, value) in [
        ("jwk", jwk),
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("x5c", json!(["MIIB"])),
    ] {
        let t = token_with_header(&json!({"alg": "HS256", name: value}));
        assert_eq!(parse(&t).unwrap_err(), TokenError::ForbiddenHeader(name));
    }
    let crit = json!([{"alg": "HS256", "crit": ["exp"], "exp": 1}, {"alg": "HS256", "crit": []},
        {"alg": "HS256", "b64": false, "crit": ["b64"]}, {"alg": "HS256", "b64": false},
        {"alg": "HS256", "b64": "true"}]);
    for header in crit.as_array().unwrap() {
        let err = parse(&token_with_header(header)).unwrap_err();
        assert_eq!(err, TokenError::UnknownCritical, "{header}");
    }
    // b64 true is the default meaning; harmless headers are kept.
    let t = token_with_header(&json!({"alg": "HS256", "b64": true, "x5t": "abc", "cty": "JWT"}));
    let parsed = parse(&t).unwrap();
    assert_eq!(parsed.header.raw.get("cty"), Some(&json!("JWT")));
    assert_eq!(verify_signature(&parsed, &keys(HS256).1), Ok(()));
}

#[test]
fn alg_must_be_a_non_empty_string() {
    let no_alg =
        json!([{"typ": "JWT"}, {"alg": 256}, {"alg": null}, {"alg": ""}, {"alg": ["HS256"]}]);
    for header in no_alg.as_array().unwrap() {
        let err = parse(&token_with_header(header)).unwrap_err();
        assert_eq!(err, TokenError::MissingAlg, "{header}");
    }
    for header in json!([{"alg": "HS256", "kid": 1}, {"alg": "HS256", "typ": {}}])
        .as_array()
        .unwrap()
    {
        let err = parse(&token_with_header(header)).unwrap_err();
        assert_eq!(err, TokenError::InvalidJson, "{header}");
    }
}

#[test]
fn header_and_payload_must_be_json_objects() {
    let sig = b64(&[1u8; 32]);
    let obj = b64(br#"{"alg":"HS256"}"#);
    for bad in [
        &b"[]"[..],
        b"\"HS256\"",
        b"1",
        b"null",
        b"{",
        b"{\"alg\":\"HS256\"",
        b"",
        b"\xff\xfe",
    ] {
        let t = format!("{}.{}.{sig}", b64(bad), b64(b"{}"));
        let expected = if bad.is_empty() {
            TokenError::Malformed
        } else {
            TokenError::InvalidJson
        };
        assert_eq!(parse(&t).unwrap_err(), expected, "header {bad:?}");
        let t = format!("{obj}.{}.{sig}", b64(bad));
        assert_eq!(
            parse(&t).unwrap_err(),
            TokenError::InvalidJson,
            "payload {bad:?}"
        );
        // A JWS payload need not be JSON.
        assert_eq!(parse_jws(&t).unwrap().payload, bad);
    }
}

#[test]
fn segments_and_base64url_are_strict() {
    let good = token_with_header(&json!({"alg": "HS256"}));
    let key = keys(HS256).1;
    assert_eq!(check(&good, &key), Ok(()));
    let (h, rest) = good.split_once('.').unwrap();
    let (p, s) = rest.split_once('.').unwrap();
    let mal = |t: &str| assert_eq!(parse(t).unwrap_err(), TokenError::Malformed, "{t:?}");
    for t in ["", ".", "..", "...", "a", "a.b", "a.b.c.d"] {
        mal(t);
    }
    for t in [
        &format!("{h}.{p}"),
        &format!("{h}.{p}.{s}."),
        &format!("{h}.{p}.{s}.{s}"),
        &format!(".{p}.{s}"),
        &format!("{h}.{p}."),
    ] {
        mal(t);
    }
    // Padding, the standard alphabet, white space, stray bits: in each segment.
    let swap = |seg: &str, from: char, to: &str| seg.replacen(from, to, 1);
    let variants = |seg: &str| {
        vec![
            format!("{seg}="),
            format!("{seg}=="),
            format!(" {seg}"),
            format!("{seg}\n"),
            format!("{seg}?"),
            swap(seg, seg.chars().nth(3).unwrap(), "+"),
            swap(seg, seg.chars().nth(3).unwrap(), "/"),
        ]
    };
    // 4n+1 characters encode no byte string.
    assert_eq!(h.len() % 4, 0);
    mal(&format!("{h}A.{p}.{s}"));
    // A longer signature is well-formed, and simply wrong.
    assert_eq!(check(&format!("{h}.{p}.{s}A"), &key), INVALID);
    for v in variants(h) {
        mal(&format!("{v}.{p}.{s}"));
    }
    for v in variants(p) {
        assert!(parse(&format!("{h}.{v}.{s}")).is_err(), "{v:?}");
    }
    for v in variants(s) {
        mal(&format!("{h}.{p}.{v}"));
    }
    // Non-canonical last character (unused bits set) in the signature:
    // 43 characters leave 2 unused bits.
    assert_eq!(s.len() % 4, 3);
    let last = s.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(last).unwrap();
    let noncanonical = &alphabet[(idx | 1)..(idx | 1) + 1];
    mal(&format!("{h}.{p}.{}{noncanonical}", &s[..s.len() - 1]));
}

#[test]
fn parse_jws_keeps_raw_payload_and_verifies() {
    let (enc, key, _) = keys(ES256);
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"ES256"}"#),
        b64(b"\x00\x01 not json")
    );
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &enc, ES256).unwrap();
    let token = format!("{input}.{sig}");
    let jws = parse_jws(&token).unwrap();
    assert_eq!(jws.payload, b"\x00\x01 not json");
    assert_eq!(token::Signed::signing_input(&jws), input);
    assert_eq!(verify_signature(&jws, &key), Ok(()));
    assert_eq!(parse(&token).unwrap_err(), TokenError::InvalidJson);
}

/// xorshift64*: enough randomness to shake the parser, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn no_input_panics_and_nothing_forged_verifies() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut pieces: Vec<&str> = r#". .. = eyJ eyJhbGciOiJIUzI1NiJ9 e30 AAAA -_ +/ é { } " \ ü.ñ"#
        .split(' ')
        .collect();
    pieces.extend(["", " ", "\n", "\u{0}"]);
    for alg in ALL {
        let (enc, key, _) = keys(alg);
        let token = signed(
            &json!({"alg": alg_name(alg), "kid": "k"}),
            &claims(),
            &enc,
            alg,
        );
        let bytes = token.as_bytes();
        // Every truncation, and every single-character change.
        for cut in 0..bytes.len() {
            let t = &token[..cut];
            assert!(check(t, &key).is_err(), "{t}");
            let _ = parse_jws(t);
        }
        for i in 0..bytes.len() {
            for c in [b'A', b'_', b'.', b'=', b'+', b'0'] {
                if bytes[i] == c {
                    continue;
                }
                let mut m = bytes.to_vec();
                m[i] = c;
                let t = String::from_utf8(m).unwrap();
                assert!(check(&t, &key).is_err(), "{t}");
            }
        }
        // Random splices of token fragments and junk.
        for _ in 0..2000 {
            let mut t = String::new();
            for _ in 0..rng.below(8) {
                if rng.below(2) == 0 {
                    let a = rng.below(token.len());
                    let b = a + rng.below(token.len() - a + 1);
                    t.push_str(&token[a..b]);
                } else {
                    t.push_str(pieces[rng.below(pieces.len())]);
                }
            }
            if t != token {
                assert!(check(&t, &key).is_err(), "{t}");
            }
            let _ = parse_jws(&t);
        }
    }
    // Random text.
    let key = keys(HS256).1;
    for _ in 0..5000 {
        let len = rng.below(200);
        let t: String = (0..len)
            .map(|_| char::from_u32(rng.below(0x250) as u32).unwrap_or('x'))
            .collect();
        assert!(check(&t, &key).is_err(), "{t:?}");
        assert!(parse_jws(&t).is_err(), "{t:?}");
    }
    // Deep nesting is refused by serde_json's recursion limit, not a stack overflow.
    let deep = format!(
        "{{\"alg\":\"HS256\",\"x\":{}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let t = format!("{}.{}.{}", b64(deep.as_bytes()), b64(b"{}"), b64(&[0; 32]));
    assert_eq!(parse(&t).unwrap_err(), TokenError::InvalidJson);
}
