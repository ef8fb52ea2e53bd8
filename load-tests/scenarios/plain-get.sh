# shellcheck shell=bash
# shellcheck disable=SC2034  # variables are read by run.sh
# Scenario plain-get: the cheapest possible proxied request, the baseline
# overhead of the gateway's request path. See README.md for every variable
# and function a scenario can define.

SCENARIO_DESCRIPTION="Small GET /api/hello through a plain prefix route, no plugins; upstream answers 200 \"ok\"."
SCENARIO_TARGET_CPU_RATIO=1.3
# pingora: the Pingora floor (contenders/pingora.sh), for gatehouse/pingora
# and pingora/nginx. Scenarios with plugins (JWT, WAF) leave it out.
SCENARIO_CONTENDERS="nginx pingora gatehouse"

# The request wrk sends (and curl pre-checks).
SCENARIO_METHOD=GET
SCENARIO_PATH=/api/hello
SCENARIO_HEADERS=()

# Gatehouse: everything after the generated `gatehouse:` section.
scenario_gatehouse_config() {
    plain_api_service
}

# nginx: location block(s) inside the proxy's server {}. proxy_pass without a
# URI keeps the original path, like strip_path: false.
scenario_nginx_locations() {
    cat <<'EOF'
location /api {
    proxy_pass http://@NGINX_UPSTREAM@;
}
EOF
}
