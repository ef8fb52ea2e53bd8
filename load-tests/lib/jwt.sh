# shellcheck shell=bash
# jwt_token ALG KEY ISS : a compact JWS (RS256 or ES256) signed with the PEM
# private key KEY, claims {"iss": ISS, "sub": "bench", "exp": now + 1 day},
# made with the openssl command line only.

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
unhex() { printf '%b' "$(sed 's/../\\x&/g')"; }

jwt_token() {
    local alg=$1 key=$2 iss=$3 header claims input sig
    header=$(printf '{"alg":"%s","typ":"JWT"}' "$alg" | b64url)
    claims=$(printf '{"iss":"%s","sub":"bench","exp":%d}' "$iss" "$(($(date +%s) + 86400))" | b64url)
    input="$header.$claims"
    case $alg in
    RS256)
        sig=$(printf '%s' "$input" | openssl dgst -sha256 -sign "$key" -binary | b64url)
        ;;
    ES256)
        # openssl writes ECDSA signatures in DER; JWS wants r || s, 32 bytes each.
        local der hex r s
        der=$(printf '%s' "$input" | openssl dgst -sha256 -sign "$key" -binary | od -An -v -tx1 | tr -d ' \n')
        hex=$(printf '%s' "$der" | unhex | openssl asn1parse -inform DER 2>/dev/null |
            awk -F: '/INTEGER/ {print $NF}')
        r=$(printf '%064s' "$(sed -n 1p <<<"$hex")" | tr ' ' 0 | tail -c 64)
        s=$(printf '%064s' "$(sed -n 2p <<<"$hex")" | tr ' ' 0 | tail -c 64)
        sig=$(printf '%s%s' "$r" "$s" | unhex | b64url)
        ;;
    *) die "jwt_token: unsupported algorithm $alg" ;;
    esac
    printf '%s.%s\n' "$input" "$sig"
}

# jwt_scenario ALG KEY cached|nocache : the jwt-* scenarios (see README):
# the route with the jwt plugin (a consumer whose ALG credential is
# tests/keys/KEY.pub) against the same route without it, both sent a valid
# token signed with tests/keys/KEY.key.
# shellcheck disable=SC2034  # variables are read by run.sh
jwt_scenario() {
    local alg=$1 key=$2 desc
    SCENARIO_JWT_ALG=$alg
    SCENARIO_JWT_KEY=$key
    case $3 in
    cached)
        desc="verified-token cache on (default)"
        SCENARIO_TARGET_CPU_RATIO=1.10
        SCENARIO_JWT_CACHE_LINE=""
        ;;
    nocache)
        # No target: this measures the signature check itself.
        desc="verified-token cache off, so every request checks the signature"
        SCENARIO_JWT_CACHE_LINE="              cache_size: 0"
        ;;
    *) die "jwt_scenario: expected cached or nocache, got $3" ;;
    esac
    SCENARIO_DESCRIPTION="GET /api/hello with a valid $alg token: jwt plugin ($desc) vs the same route without the plugin."
    SCENARIO_CONTENDERS="gatehouse-plain gatehouse"
    SCENARIO_BASELINE=gatehouse-plain
    SCENARIO_SUBJECT=gatehouse
    SCENARIO_METHOD=GET
    SCENARIO_PATH=/api/hello
    SCENARIO_HEADERS=("Authorization: Bearer $(jwt_token "$alg" "$REPO_DIR/tests/keys/$key.key" bench)")
}

scenario_gatehouse_plain_config() {
    plain_api_service
}

scenario_gatehouse_config() {
    scenario_gatehouse_plain_config
    cat <<EOF
        plugins:
          - name: jwt
            config:
              claims_to_verify: [exp]
$SCENARIO_JWT_CACHE_LINE
consumers:
  - username: bench
    jwt_secrets:
      - key: bench
        algorithm: $SCENARIO_JWT_ALG
        rsa_public_key: |
$(sed 's/^/          /' "$REPO_DIR/tests/keys/$SCENARIO_JWT_KEY.pub")
EOF
}
