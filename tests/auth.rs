//! The `jwt` plugin through the real binary: Kong's configuration and
//! messages, every algorithm, token locations, anonymous and preflight,
//! JWKS with rotation, issuer/audience/leeway/scopes, claims forwarded as
//! headers, and forged tokens that must never reach the service.

use crate::harness::{eventually, metric_sum, Gateway, Reply, Request, Response, Upstream};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/keys");
const SECRET: &str = "a-shared-secret-of-at-least-32-bytes!";

fn key_file(name: &str) -> String {
    std::fs::read_to_string(format!("{KEYS}/{name}")).expect("test key")
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Signs `claims` with `alg`; the key is picked from the test keys.
fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    let key = match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(SECRET.as_bytes())
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => {
            EncodingKey::from_rsa_pem(key_file("rsa.key").as_bytes()).expect("rsa key")
        }
        Algorithm::ES256 => EncodingKey::from_ec_pem(key_file("p256.key").as_bytes()).expect("ec"),
        Algorithm::ES384 => EncodingKey::from_ec_pem(key_file("p384.key").as_bytes()).expect("ec"),
        Algorithm::EdDSA => {
            EncodingKey::from_ed_pem(key_file("ed25519.key").as_bytes()).expect("ed")
        }
    };
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

fn sign_rsa2(kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_string());
    let key = EncodingKey::from_rsa_pem(key_file("rsa2.key").as_bytes()).expect("rsa2");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

/// A token assembled by hand: any header, any payload, any signature.
fn forge(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string()),
        B64.encode(signature)
    )
}

fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// Consumers with one credential per algorithm; the credential key is the
/// algorithm name in lowercase.
fn consumers() -> String {
    let mut out = String::from("consumers:\n");
    for alg in ["HS256", "HS384", "HS512"] {
        out.push_str(&format!(
            "  - username: user-{l}\n    id: id-{l}\n    jwt_secrets:\n      - key: {l}\n        algorithm: {alg}\n        secret: {SECRET}\n",
            l = alg.to_lowercase()
        ));
    }
    for (alg, file) in [
        ("RS256", "rsa.pub"),
        ("RS384", "rsa.pub"),
        ("RS512", "rsa.pub"),
        ("PS256", "rsa.pub"),
        ("PS384", "rsa.pub"),
        ("PS512", "rsa.pub"),
        ("ES256", "p256.pub"),
        ("ES384", "p384.pub"),
        ("EdDSA", "ed25519.pub"),
    ] {
        out.push_str(&format!(
            "  - username: user-{l}\n    custom_id: custom-{l}\n    jwt_secrets:\n      - key: {l}\n        algorithm: {alg}\n        rsa_public_key: |\n{pem}",
            l = alg.to_lowercase(),
            pem = indent(&key_file(file), 10)
        ));
    }
    out.push_str("  - username: nobody\n    id: anon-id\n");
    out
}

fn service(up: &Upstream, routes: &str) -> String {
    format!(
        "services:\n  - name: api\n    url: {}\n    routes:\n{routes}",
        up.url()
    )
}

fn route(name: &str, path: &str, jwt_config: &str) -> String {
    format!(
        "      - name: {name}\n        paths: [{path}]\n        plugins:\n          - name: jwt\n            config:\n{}",
        indent(jwt_config, 14)
    )
}

fn bearer(path: &str, token: &str) -> Request {
    Request::get(path).header("Authorization", &format!("Bearer {token}"))
}

#[track_caller]
fn assert_denied(r: &Response, status: u16, message: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.json()["message"], message, "{r:?}");
    assert_eq!(r.json()["request_id"].as_str().map(str::len), Some(32));
}

fn claims(iss: &str) -> Value {
    json!({"iss": iss, "sub": "user-1", "exp": now() + 600})
}

#[test]
fn kong_jwt_accepts_every_algorithm_and_names_the_consumer() {
    let up = Upstream::start_with(Reply::echo);
    let body = format!(
        "{}{}",
        service(&up, &route("r", "/api", "claims_to_verify: [exp]\n")),
        consumers()
    );
    let gw = Gateway::start(&body);
    for alg in [
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ] {
        let key = format!("{alg:?}").to_lowercase();
        up.clear();
        let r = gw.send(
            &bearer("/api/x", &sign(alg, None, &claims(&key)))
                .header("X-Consumer-Username", "admin")
                .header("X-Anonymous-Consumer", "true"),
        );
        assert_eq!(r.status, 200, "{alg:?}: {r:?}");
        let seen = up.last();
        assert_eq!(seen.header("x-credential-identifier"), Some(key.as_str()));
        assert_eq!(
            seen.headers_all("x-consumer-username"),
            vec![format!("user-{key}").as_str()],
            "{alg:?}: forged consumer header replaced"
        );
        assert_eq!(seen.header("x-anonymous-consumer"), None);
        if key.starts_with("hs") {
            assert_eq!(
                seen.header("x-consumer-id"),
                Some(format!("id-{key}").as_str())
            );
        } else {
            assert_eq!(
                seen.header("x-consumer-custom-id"),
                Some(format!("custom-{key}").as_str())
            );
        }
        assert!(
            seen.header("authorization").is_some(),
            "token forwarded by default"
        );
    }
}

#[test]
fn kong_messages_and_nothing_reaches_the_service() {
    let up = Upstream::start();
    let routes = format!(
        "{}{}",
        route(
            "r",
            "/api",
            "claims_to_verify: [exp, nbf]\nrealm: gatehouse\n"
        ),
        route(
            "short",
            "/short",
            "claims_to_verify: [exp]\nmaximum_expiration: 60\n"
        )
    );
    let gw = Gateway::start(&format!("{}{}", service(&up, &routes), consumers()));
    let t = now();
    let ok = |c: Value| sign(Algorithm::HS256, None, &c);

    let r = gw.get("/api/x");
    assert_denied(&r, 401, "Unauthorized");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"gatehouse\"")
    );

    let one = ok(json!({"iss": "hs256", "exp": t + 60, "nbf": t}));
    let two = ok(json!({"iss": "hs256", "exp": t + 61, "nbf": t}));
    let r = gw.send(&bearer(&format!("/api/x?jwt={one}"), &two));
    assert_denied(&r, 401, "Multiple tokens provided");
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"gatehouse\", error=\"invalid_token\"")
    );
    // The same token twice is one token.
    assert_eq!(
        gw.send(&bearer(&format!("/api/x?jwt={one}"), &one)).status,
        200
    );
    up.clear();

    let cases = [
        ("not-a-jwt".to_string(), "Bad token; invalid JSON"),
        (
            format!(
                "{}.{}.c2ln",
                B64.encode("{\"alg\":\"HS256\""),
                B64.encode("{}")
            ),
            "Bad token; invalid JSON",
        ),
        (
            ok(json!({"iss": "unknown", "exp": t + 60, "nbf": t})),
            "No credentials found for given 'iss'",
        ),
        (
            ok(json!({"sub": "x", "exp": t + 60})),
            "No mandatory 'iss' in claims",
        ),
        (
            sign(
                Algorithm::HS512,
                None,
                &json!({"iss": "hs256", "exp": t + 60, "nbf": t}),
            ),
            "Invalid algorithm",
        ),
        (
            sign(
                Algorithm::HS256,
                None,
                &json!({"iss": "hs384", "exp": t + 60, "nbf": t}),
            ),
            "Invalid algorithm",
        ),
        (
            {
                let good = ok(json!({"iss": "hs256", "exp": t + 60, "nbf": t}));
                let mut bytes = good.into_bytes();
                let last = bytes.len() - 2;
                bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
                String::from_utf8(bytes).unwrap_or_default()
            },
            "Invalid signature",
        ),
        (
            ok(json!({"iss": "hs256", "exp": t - 1, "nbf": t - 100})),
            "token expired",
        ),
        (
            ok(json!({"iss": "hs256", "exp": t + 60, "nbf": t + 100})),
            "token not valid yet",
        ),
        (
            ok(json!({"iss": "hs256", "nbf": t})),
            "exp must be a number",
        ),
    ];
    for (token, message) in &cases {
        let r = gw.send(&bearer("/api/x", token));
        assert_denied(&r, 401, message);
    }
    let r = gw.send(&bearer(
        "/short/x",
        &ok(json!({"iss": "hs256", "exp": t + 3600})),
    ));
    assert_denied(&r, 401, "exceeds maximum allowed expiration");
    assert_eq!(
        gw.send(&bearer(
            "/short/x",
            &ok(json!({"iss": "hs256", "exp": t + 30}))
        ))
        .status,
        200
    );
    assert_eq!(up.count(), 1, "only the last request reached the service");
    let m = gw.metrics();
    assert!(
        metric_sum(
            &m,
            "gatehouse_rejections_total",
            &[("reason", "invalid_signature")]
        ) >= Some(1.0)
    );
}

#[test]
fn token_locations_preflight_and_anonymous() {
    let up = Upstream::start_with(Reply::echo);
    let routes = format!(
        "{}{}{}",
        route(
            "places",
            "/places",
            "uri_param_names: [token]\ncookie_names: [session]\nheader_names: [x-api-token]\nrun_on_preflight: false\n"
        ),
        route("anon", "/anon", "anonymous: nobody\n"),
        route("strict", "/strict", "{}\n"),
    );
    let gw = Gateway::start(&format!("{}{}", service(&up, &routes), consumers()));
    let token = sign(Algorithm::HS256, None, &claims("hs256"));

    assert_eq!(gw.get(&format!("/places/x?token={token}")).status, 200);
    let r = gw.send(&Request::get("/places/x").header("Cookie", &format!("a=b; session={token}")));
    assert_eq!(r.status, 200);
    let r = gw.send(&Request::get("/places/x").header("X-Api-Token", &format!("Bearer {token}")));
    assert_eq!(r.status, 200);
    // Authorization is not one of this route's header names.
    assert_denied(&gw.send(&bearer("/places/x", &token)), 401, "Unauthorized");
    // Preflight skipped here, checked on the default route.
    let preflight = Request::options("/places/x")
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST");
    assert_eq!(gw.send(&preflight).status, 200);
    let preflight = Request::options("/strict/x").header("Origin", "https://app.example");
    assert_denied(&gw.send(&preflight), 401, "Unauthorized");

    up.clear();
    let r = gw.send(&Request::get("/anon/x").header("X-Credential-Identifier", "forged"));
    assert_eq!(r.status, 200);
    let seen = up.last();
    assert_eq!(seen.header("x-anonymous-consumer"), Some("true"));
    assert_eq!(seen.header("x-consumer-id"), Some("anon-id"));
    assert_eq!(seen.header("x-consumer-username"), Some("nobody"));
    assert_eq!(seen.header("x-credential-identifier"), None);
    let r = gw.send(&bearer("/anon/x", &token));
    assert_eq!(r.status, 200);
    let seen = up.last();
    assert_eq!(seen.header("x-anonymous-consumer"), None);
    assert_eq!(seen.header("x-consumer-username"), Some("user-hs256"));
}

#[test]
fn forged_tokens_never_pass() {
    let up = Upstream::start();
    let gw = Gateway::start(&format!(
        "{}{}",
        service(&up, &route("r", "/api", "claims_to_verify: [exp]\n")),
        consumers()
    ));
    let c = claims("rs256");
    let rsa_pub = key_file("rsa.pub");
    let hmac_with_public_key = {
        let mut h = Header::new(Algorithm::HS256);
        h.typ = Some("JWT".into());
        jsonwebtoken::encode(&h, &c, &EncodingKey::from_secret(rsa_pub.as_bytes())).expect("sign")
    };
    let good = sign(Algorithm::RS256, None, &c);
    let good_header: Value = serde_json::from_slice(
        &B64.decode(good.split('.').next().unwrap_or_default())
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    let with = |k: &str, v: Value| {
        let mut h = good_header.clone();
        h[k] = v;
        let parts: Vec<&str> = good.split('.').collect();
        format!("{}.{}.{}", B64.encode(h.to_string()), parts[1], parts[2])
    };
    let es = claims("es256");
    let mut cases: Vec<(String, &str)> = vec![
        (hmac_with_public_key, "Invalid algorithm"),
        (
            with("jwk", json!({"kty": "oct", "k": "AAAA"})),
            "Bad token; unsupported header",
        ),
        (
            with("jku", json!("https://evil.example/jwks")),
            "Bad token; unsupported header",
        ),
        (
            with("x5u", json!("https://evil.example/cert")),
            "Bad token; unsupported header",
        ),
        (
            with("x5c", json!(["MIIB"])),
            "Bad token; unsupported header",
        ),
        (
            with("crit", json!(["exp"])),
            "Bad token; unsupported header",
        ),
        (
            forge(&json!({"alg": "ES256"}), &es, &[0u8; 64]),
            "Invalid signature",
        ),
        (
            forge(
                &json!({"alg": "ES256"}),
                &es,
                &[[0u8; 32], [1u8; 32]].concat(),
            ),
            "Invalid signature",
        ),
        (
            forge(&json!({"alg": "ES256"}), &es, &[1u8; 63]),
            "Invalid signature",
        ),
    ];
    for none in ["none", "None", "NONE", "nOnE"] {
        cases.push((
            forge(&json!({"alg": none}), &c, b""),
            "Bad token; invalid alg",
        ));
        cases.push((
            format!(
                "{}.{}.",
                B64.encode(json!({"alg": none}).to_string()),
                B64.encode(c.to_string())
            ),
            "Bad token; invalid alg",
        ));
    }
    for (token, message) in &cases {
        let r = gw.send(&bearer("/api/x", token));
        assert_denied(&r, 401, message);
    }
    for garbage in ["a.b", "a.b.c.d", "....", "e30.e30.e30", "%%.x.y", "=.=.="] {
        let r = gw.send(&bearer("/api/x", garbage));
        assert_eq!(r.status, 401, "{garbage}: {r:?}");
    }
    assert_eq!(up.count(), 0, "{:?}", up.requests());
    assert_eq!(gw.send(&bearer("/api/x", &good)).status, 200);
}

/// A JWKS endpoint whose document can be changed and which counts fetches.
struct JwksServer {
    addr: SocketAddr,
    doc: Arc<Mutex<Option<String>>>,
    fetches: Arc<AtomicUsize>,
}

impl JwksServer {
    fn start(doc: &str) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let doc = Arc::new(Mutex::new(Some(doc.to_string())));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (d, f) = (doc.clone(), fetches.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                f.fetch_add(1, Ordering::SeqCst);
                let current = d.lock().map(|g| g.clone()).unwrap_or_default();
                let response = match current {
                    Some(body) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    None => "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_string(),
                };
                let _ = s.write_all(response.as_bytes());
            }
        });
        JwksServer { addr, doc, fetches }
    }

    fn serve(&self, doc: Option<&str>) {
        if let Ok(mut g) = self.doc.lock() {
            *g = doc.map(str::to_string);
        }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn jwks_doc(files: &[&str]) -> String {
    let keys: Vec<Value> = files
        .iter()
        .map(|f| serde_json::from_str(&key_file(f)).expect("jwk"))
        .collect();
    json!({ "keys": keys }).to_string()
}

#[test]
fn jwks_rotation_outage_and_refetch_limits() {
    let server = JwksServer::start(&jwks_doc(&["rsa.jwk.json"]));
    let up = Upstream::start();
    let jwt = format!(
        "jwks:\n  url: http://{}/jwks.json\n  cache_ttl: 60s\n  min_refetch_interval: 1s\n",
        server.addr
    );
    let down = "jwks:\n  url: http://127.0.0.1:1/jwks.json\n";
    let routes = format!(
        "{}{}",
        route("r", "/api", &jwt),
        route("down", "/down", down)
    );
    let gw = Gateway::start(&service(&up, &routes));
    let c = json!({"sub": "u", "exp": now() + 600});
    let first = sign(Algorithm::RS256, Some("rsa-kid"), &c);
    assert!(eventually(Duration::from_secs(5), || gw
        .send(&bearer("/api/x", &first))
        .status
        == 200));

    // Never loaded: 503, not 401.
    let r = gw.send(&bearer("/down/x", &first));
    assert_denied(&r, 503, "authentication unavailable");

    // A new key is picked up after its first unknown-kid refusal.
    let second = sign_rsa2("rsa2-kid", &c);
    assert_denied(
        &gw.send(&bearer("/api/x", &second)),
        401,
        "No credentials found for given 'kid'",
    );
    server.serve(Some(&jwks_doc(&["rsa.jwk.json", "rsa2.jwk.json"])));
    assert!(eventually(Duration::from_secs(5), || gw
        .send(&bearer("/api/x", &second))
        .status
        == 200));

    // A refetch storm: many unknown kids, few fetches.
    let before = server.fetches();
    for i in 0..40 {
        let t = sign_rsa2(&format!("unknown-{i}"), &c);
        assert_eq!(gw.send(&bearer("/api/x", &t)).status, 401);
    }
    let storm = server.fetches() - before;
    assert!(storm <= 3, "{storm} fetches for 40 unknown kids");

    // Endpoint down: the last keys still verify.
    server.serve(None);
    std::thread::sleep(Duration::from_millis(1200));
    let t = sign_rsa2("another-unknown", &c);
    assert_eq!(gw.send(&bearer("/api/x", &t)).status, 401);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(gw.send(&bearer("/api/x", &second)).status, 200);

    // The old key removed: its tokens are refused once the set is refetched
    // (the cached verification goes with the old set).
    server.serve(Some(&jwks_doc(&["rsa2.jwk.json"])));
    std::thread::sleep(Duration::from_millis(1100));
    let _ = gw.send(&bearer("/api/x", &sign_rsa2("trigger", &c)));
    assert!(eventually(Duration::from_secs(5), || gw
        .send(&bearer("/api/x", &first))
        .status
        == 401));
    assert_eq!(gw.send(&bearer("/api/x", &second)).status, 200);
}

#[test]
fn issuer_audience_leeway_scopes_and_claims_to_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks_doc(&["rsa.jwk.json", "p256.jwk.json"])).expect("write");
    let up = Upstream::start_with(Reply::echo);
    let common = format!(
        "jwks:\n  file: {}\nissuer: https://auth.example.com\naudiences: [orders]\nclaims_to_verify: [exp, nbf]\nleeway: 30\nrequired_claims: [sub]\nclaims_to_headers:\n  sub: x-user-id\n  roles: x-user-roles\n  org.name: x-org\nauthenticated_header: x-authenticated\nforward_token: false\n",
        jwks_file.display()
    );
    let routes = format!(
        "{}{}",
        route("r", "/api", &common),
        route("admin", "/admin", &format!("{common}scopes: [admin]\n"))
    );
    let gw = Gateway::start(&service(&up, &routes));
    let t = now();
    let token = |extra: Value| {
        let mut c = json!({
            "iss": "https://auth.example.com", "aud": ["orders", "other"], "sub": "user-42",
            "roles": ["reader", "writer"], "org": {"name": "acme"}, "exp": t + 600, "nbf": t,
            "scope": "read write"
        });
        if let (Some(c), Value::Object(e)) = (c.as_object_mut(), extra) {
            for (k, v) in e {
                c.insert(k, v);
            }
        }
        sign(Algorithm::RS256, Some("rsa-kid"), &c)
    };

    let r = gw.send(
        &bearer("/api/x", &token(json!({})))
            .header("X-User-Id", "forged")
            .header("X-Authenticated", "true"),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let seen = up.last();
    assert_eq!(seen.headers_all("x-user-id"), vec!["user-42"]);
    assert_eq!(seen.header("x-user-roles"), Some("reader,writer"));
    assert_eq!(seen.header("x-org"), Some("acme"));
    assert_eq!(seen.headers_all("x-authenticated"), vec!["true"]);
    assert_eq!(seen.header("authorization"), None, "forward_token: false");
    // ES256 from the same file.
    let es = sign(
        Algorithm::ES256,
        Some("p256-kid"),
        &json!({"iss": "https://auth.example.com", "aud": "orders", "sub": "s", "exp": t + 60, "nbf": t}),
    );
    assert_eq!(gw.send(&bearer("/api/x", &es)).status, 200);

    let cases = [
        (json!({"iss": "https://evil.example.com"}), "Invalid issuer"),
        (json!({"aud": "billing"}), "Invalid audience"),
        (json!({"sub": null}), "Missing required claim 'sub'"),
        (json!({"exp": t - 40}), "token expired"),
        (json!({"nbf": t + 40}), "token not valid yet"),
    ];
    up.clear();
    for (extra, message) in cases {
        let r = gw.send(&bearer("/api/x", &token(extra.clone())));
        assert_eq!(r.status, 401, "{extra}: {r:?}");
        assert_denied(&r, 401, message);
    }
    // Inside the leeway on both sides.
    assert_eq!(
        gw.send(&bearer("/api/x", &token(json!({"exp": t - 25}))))
            .status,
        200
    );
    assert_eq!(
        gw.send(&bearer("/api/x", &token(json!({"nbf": t + 25}))))
            .status,
        200
    );
    assert_eq!(up.count(), 2);

    let r = gw.send(&bearer("/admin/x", &token(json!({}))));
    assert_denied(&r, 403, "Insufficient scope");
    assert!(r
        .header("www-authenticate")
        .is_some_and(|h| h.contains("error=\"insufficient_scope\"")));
    let r = gw.send(&bearer("/admin/x", &token(json!({"scope": "read admin"}))));
    assert_eq!(r.status, 200);
}

#[test]
fn bad_jwt_configs_are_located() {
    let out = crate::harness::check(
        "services:\n  - name: a\n    url: mock://\n    routes:\n      - paths: [/a]\n        plugins:\n          - name: jwt\n            config:\n              claims_to_verify: [iat]\n              maximum_expiration: 10\n              anonymous: ghost\n      - paths: [/b]\n        plugins:\n          - name: jwt\n            config:\n              key_claim: kid\nconsumers:\n  - username: u\n    jwt_secrets:\n      - key: k\n        algorithm: RS256\n        rsa_public_key: not a pem\n      - key: h\n        algorithm: HS999\n        secret: s\n",
    );
    let text = out.combined();
    assert!(!out.success(), "{text}");
    for needle in [
        "routes[1].plugins[0].config.key_claim: unknown key `key_claim`",
        "config.claims_to_verify[0]: `iat` cannot be verified",
        "config.maximum_expiration: `maximum_expiration` needs `exp`",
        "config.anonymous: no consumer with id or username `ghost`",
        "consumers[0].jwt_secrets[0].rsa_public_key:",
        "consumers[0].jwt_secrets[1].algorithm: unknown algorithm `HS999`",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
}

/// A self-signed certificate for `localhost` / 127.0.0.1 and its key, PEM.
fn localhost_cert() -> (String, String) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
    use openssl::x509::{X509NameBuilder, X509};
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("curve");
    let key = PKey::from_ec_key(EcKey::generate(&group).expect("key")).expect("pkey");
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_text("CN", "localhost").expect("cn");
    let name = name.build();
    let mut b = X509::builder().expect("builder");
    b.set_version(2).expect("version");
    let serial = BigNum::from_u32(7)
        .and_then(|n| n.to_asn1_integer())
        .expect("serial");
    b.set_serial_number(&serial).expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(&name).expect("issuer");
    b.set_pubkey(&key).expect("pubkey");
    b.set_not_before(&Asn1Time::days_from_now(0).expect("time"))
        .expect("nb");
    b.set_not_after(&Asn1Time::days_from_now(2).expect("time"))
        .expect("na");
    b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc"))
        .expect("bc");
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&b.x509v3_context(None, None))
        .expect("san");
    b.append_extension(san).expect("san");
    b.sign(&key, MessageDigest::sha256()).expect("sign");
    let cert = String::from_utf8(b.build().to_pem().expect("pem")).expect("utf8");
    let key = String::from_utf8(key.private_key_to_pem_pkcs8().expect("pem")).expect("utf8");
    (cert, key)
}

/// Serves `doc` over HTTPS on 127.0.0.1 and returns the port.
fn https_jwks_server(doc: String, cert: &str, key: &str) -> u16 {
    use openssl::pkey::PKey;
    use openssl::ssl::{SslAcceptor, SslMethod};
    use openssl::x509::X509;
    let mut acceptor = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).expect("acceptor");
    acceptor
        .set_private_key(&PKey::private_key_from_pem(key.as_bytes()).expect("key"))
        .expect("key");
    acceptor
        .set_certificate(&X509::from_pem(cert.as_bytes()).expect("cert"))
        .expect("cert");
    let acceptor = acceptor.build();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let Ok(mut tls) = acceptor.accept(stream) else {
                continue;
            };
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{doc}",
                doc.len()
            );
            let _ = tls.write_all(response.as_bytes());
            let _ = tls.shutdown();
        }
    });
    port
}

#[test]
fn jwks_over_https_verifies_the_endpoint() {
    let (cert, key) = localhost_cert();
    let port = https_jwks_server(jwks_doc(&["rsa.jwk.json"]), &cert, &key);
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &cert).expect("write ca");
    let up = Upstream::start();
    let trusted = format!(
        "jwks:\n  url: https://localhost:{port}/jwks.json\n  ca_file: {}\n",
        ca.display()
    );
    // Without the CA the endpoint's certificate is not trusted: no keys.
    let untrusted = format!("jwks:\n  url: https://localhost:{port}/jwks.json\n");
    let routes = format!(
        "{}{}",
        route("r", "/api", &trusted),
        route("u", "/untrusted", &untrusted)
    );
    let gw = Gateway::start(&service(&up, &routes));
    let token = sign(
        Algorithm::RS256,
        Some("rsa-kid"),
        &json!({"sub": "u", "exp": now() + 60}),
    );
    assert!(
        eventually(Duration::from_secs(5), || gw
            .send(&bearer("/api/x", &token))
            .status
            == 200),
        "{}",
        gw.logs()
    );
    let r = gw.send(&bearer("/untrusted/x", &token));
    assert_denied(&r, 503, "authentication unavailable");
    assert_eq!(up.count(), 1);
}
