//! The Wycheproof JSON Web Signature vectors (C2SP, testvectors_v1): every
//! `valid` vector must verify and every `invalid` one must be refused,
//! except the few listed in `EXCEPTIONS`, each for a stated reason and each
//! checked to still behave exactly as listed.
//!
//! The vectors live outside the repository (shared/vectors/wycheproof);
//! without them the test says so and passes.

// Helpers outside #[test] functions unwrap too: a test failing loudly is the point.
#![allow(clippy::unwrap_used)]

use gatehouse_auth::keys::{parse_alg, VerifyKey};
use gatehouse_auth::token::{parse_jws, verify_signature};
use serde_json::Value;
use std::collections::BTreeMap;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/wycheproof/json_web_signature_test.json"
);

/// Where a vector ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted,
    KeyRefused,
    ParseRefused,
    SignatureRefused,
}

/// Vectors whose expected result we deliberately do not give.
const EXCEPTIONS: [(u64, Outcome, &str); 8] = [
    // `valid`, refused.
    (346, Outcome::SignatureRefused, "RFC 7520 Figure 20: a PS384 token, but Wycheproof gave the key \"alg\":\"PS256\"; the algorithm is pinned to the key (the same rule Wycheproof's own WrongPrimitive vectors 331-340 require)"),
    (347, Outcome::KeyRefused, "RFC 7520 Figure 27: ES512 on P-521 (key \"alg\":\"ES521\"), not supported by jsonwebtoken/ring"),
    (350, Outcome::SignatureRefused, "same as 346 (key_ops variant of the key)"),
    (351, Outcome::KeyRefused, "same as 347 (key_ops variant of the key)"),
    (372, Outcome::ParseRefused, "'?' inside the header's base64url; it is 357 with a character inserted, accepted only by decoders that skip invalid characters"),
    (373, Outcome::ParseRefused, "'?' inside the payload's base64url; as 372"),
    // `invalid`, accepted.
    (367, Outcome::Accepted, "\"invalidBase64Padding\", but byte-identical to the valid 357 (the '=' it was meant to carry was lost upstream)"),
    (370, Outcome::Accepted, "\"invalidBase64PaddingInPayload\", byte-identical to 357 as well"),
];

fn run(group: &Value, jws: &str) -> Outcome {
    // The verifier's key: the public JWK, or the secret one for HMAC.
    let jwk = group.get("public").or_else(|| group.get("private"));
    let fallback = jwk
        .and_then(|k| k.get("alg"))
        .and_then(Value::as_str)
        .and_then(parse_alg);
    let Some(Ok(key)) = jwk.map(|k| VerifyKey::from_jwk(k, fallback)) else {
        return Outcome::KeyRefused;
    };
    let Ok(token) = parse_jws(jws) else {
        return Outcome::ParseRefused;
    };
    match verify_signature(&token, &key) {
        Ok(()) => Outcome::Accepted,
        Err(_) => Outcome::SignatureRefused,
    }
}

#[test]
fn json_web_signature_vectors() {
    let Ok(text) = std::fs::read(VECTORS) else {
        println!("SKIPPED: Wycheproof vectors not found at {VECTORS}");
        return;
    };
    let doc: Value = serde_json::from_slice(&text).unwrap();
    let mut total = 0;
    let (mut valid, mut valid_ok, mut invalid, mut invalid_ok) = (0, 0, 0, 0);
    let mut jws_by_id = BTreeMap::new();
    let mut deviations = Vec::new();
    let mut failures = Vec::new();
    let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    for group in doc["testGroups"].as_array().unwrap() {
        for test in group["tests"].as_array().unwrap() {
            total += 1;
            let id = test["tcId"].as_u64().unwrap();
            let jws = test["jws"].as_str().unwrap();
            jws_by_id.insert(id, jws.to_string());
            let outcome = run(group, jws);
            *by_outcome.entry(format!("{outcome:?}")).or_default() += 1;
            let is_valid = match test["result"].as_str().unwrap() {
                "valid" => true,
                "invalid" => false,
                other => panic!("tcId {id}: unexpected result {other:?}"),
            };
            let right = (outcome == Outcome::Accepted) == is_valid;
            if is_valid {
                valid += 1;
                valid_ok += usize::from(right);
            } else {
                invalid += 1;
                invalid_ok += usize::from(right);
            }
            if !right {
                deviations.push((id, outcome));
                if !EXCEPTIONS.iter().any(|(e, o, _)| *e == id && *o == outcome) {
                    failures.push(format!(
                        "tcId {id} ({}): expected {}, got {outcome:?}",
                        test["comment"], test["result"]
                    ));
                }
            }
        }
    }
    println!("Wycheproof JWS: {total} vectors; valid accepted {valid_ok}/{valid}, invalid rejected {invalid_ok}/{invalid}; outcomes {by_outcome:?}");
    for (id, outcome, why) in EXCEPTIONS {
        println!("  exception tcId {id} ({outcome:?}): {why}");
    }
    assert_eq!(total, 401);
    assert!(
        failures.is_empty(),
        "unexpected results:\n{}",
        failures.join("\n")
    );
    let listed: Vec<(u64, Outcome)> = {
        let mut l: Vec<_> = EXCEPTIONS.iter().map(|(id, o, _)| (*id, *o)).collect();
        l.sort_by_key(|(id, _)| *id);
        l
    };
    assert_eq!(deviations, listed, "the exception list must be exact");

    // The exceptions are what they are said to be.
    assert_eq!(jws_by_id[&367], jws_by_id[&357]);
    assert_eq!(jws_by_id[&370], jws_by_id[&357]);
    assert_eq!(jws_by_id[&372].replacen('?', "", 1), jws_by_id[&357]);
    assert_eq!(jws_by_id[&373].replacen('?', "", 1), jws_by_id[&357]);
    // 346: a good PS384 signature, refused only because the key says PS256.
    let group = doc["testGroups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| {
            g["tests"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["tcId"] == 346)
        })
        .unwrap();
    let mut jwk = group["public"].clone();
    jwk.as_object_mut().unwrap().remove("alg");
    let ps384 = VerifyKey::from_jwk(&jwk, parse_alg("PS384")).unwrap();
    assert_eq!(
        verify_signature(&parse_jws(&jws_by_id[&346]).unwrap(), &ps384),
        Ok(())
    );
}
