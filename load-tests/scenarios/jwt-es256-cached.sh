# shellcheck shell=bash
# Scenario jwt-es256-cached: the jwt plugin with a ES256 credential, verified-token
# cache on, against the same route without it (lib/jwt.sh).

# shellcheck source=../lib/jwt.sh
source "$LT_DIR/lib/jwt.sh"
jwt_scenario ES256 p256 cached
