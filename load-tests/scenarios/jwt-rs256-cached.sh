# shellcheck shell=bash
# Scenario jwt-rs256-cached: the jwt plugin with a RS256 credential, verified-token
# cache on, against the same route without it (lib/jwt.sh).

# shellcheck source=../lib/jwt.sh
source "$LT_DIR/lib/jwt.sh"
jwt_scenario RS256 rsa cached
