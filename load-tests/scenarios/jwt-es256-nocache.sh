# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are read by run.sh
# Scenario jwt-es256-nocache: a route with the jwt plugin (ES256 credential, verified-token cache off, so every request checks the signature)
# against the same route without it, same binary, same run.

# shellcheck source=../lib/jwt.sh
source "$LT_DIR/lib/jwt.sh"

SCENARIO_DESCRIPTION="GET /api/hello with a valid ES256 token: jwt plugin (verified-token cache off, so every request checks the signature) vs the same route without the plugin."
# No target: this measures the signature check itself.
SCENARIO_CONTENDERS="gatehouse-plain gatehouse"
SCENARIO_BASELINE=gatehouse-plain
SCENARIO_SUBJECT=gatehouse

SCENARIO_METHOD=GET
SCENARIO_PATH=/api/hello
SCENARIO_HEADERS=("Authorization: Bearer $(jwt_token ES256 "$REPO_DIR/tests/keys/p256.key" bench)")

scenario_gatehouse_plain_config() {
    cat <<'EOF'
services:
  - name: backend
    url: http://@UPSTREAM@
    routes:
      - name: api
        paths: [/api]
        strip_path: false
EOF
}

scenario_gatehouse_config() {
    scenario_gatehouse_plain_config
    cat <<EOF
        plugins:
          - name: jwt
            config:
              claims_to_verify: [exp]
              cache_size: 0
consumers:
  - username: bench
    jwt_secrets:
      - key: bench
        algorithm: ES256
        rsa_public_key: |
$(sed 's/^/          /' "$REPO_DIR/tests/keys/p256.pub")
EOF
}
