# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are read by run.sh
# Scenario jwt-rs256-cached: a route with the jwt plugin (RS256 credential, verified-token cache on (default))
# against the same route without it, same binary, same run.

# shellcheck source=../lib/jwt.sh
source "$LT_DIR/lib/jwt.sh"

SCENARIO_DESCRIPTION="GET /api/hello with a valid RS256 token: jwt plugin (verified-token cache on (default)) vs the same route without the plugin."
SCENARIO_TARGET_CPU_RATIO=1.10
SCENARIO_CONTENDERS="gatehouse-plain gatehouse"
SCENARIO_BASELINE=gatehouse-plain
SCENARIO_SUBJECT=gatehouse

SCENARIO_METHOD=GET
SCENARIO_PATH=/api/hello
SCENARIO_HEADERS=("Authorization: Bearer $(jwt_token RS256 "$REPO_DIR/tests/keys/rsa.key" bench)")

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

consumers:
  - username: bench
    jwt_secrets:
      - key: bench
        algorithm: RS256
        rsa_public_key: |
$(sed 's/^/          /' "$REPO_DIR/tests/keys/rsa.pub")
EOF
}
