# shellcheck shell=bash
# waf_scenario get|post : the waf-crs-* scenarios (see README): OWASP CRS
# (CRS_DIR, ../shared/crs-v4.28.0) at paranoia level 1 in blocking mode, in
# gatehouse's waf plugin and in nginx+ModSecurity (contender nginx-modsec),
# against the same proxies without a WAF (nginx, gatehouse-plain), all sent
# the same benign browser-like request, which must pass (2xx).
# shellcheck disable=SC2034  # variables are read by run.sh
waf_scenario() {
    crs_require
    SCENARIO_CONTENDERS="nginx nginx-modsec gatehouse-plain gatehouse"
    SCENARIO_BASELINE=nginx
    SCENARIO_SUBJECT=gatehouse
    # Goals: gatehouse with the WAF at most 3x plain nginx, and at least
    # 20x cheaper than nginx+ModSecurity running the same CRS.
    SCENARIO_TARGET_CPU_RATIO=3
    SCENARIO_RATIOS="gatehouse/nginx nginx-modsec/gatehouse>=20 gatehouse/gatehouse-plain nginx-modsec/nginx"
    # nginx-modsec (Debian 12's libmodsecurity 3.0.9) spends 2-3 ms per GET
    # and ~30 ms per POST; with 50 connections on one worker a few requests
    # wait up to 10 s (measured), past wrk's default 2 s timeout. 30 s is
    # longer than a run, so only a hung request stays an error.
    SCENARIO_WRK_TIMEOUT=30s
    # Host: a name, as browsers send; wrk's default 127.0.0.1:port would
    # match CRS rule 920350 (numeric Host) and score on every request.
    SCENARIO_HEADERS=(
        "Host: shop.example.com"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
        "Accept-Language: en-GB,en;q=0.8"
        "Accept-Encoding: gzip, deflate, br"
        "Referer: https://shop.example.com/products/trail-running?page=2"
        "Cookie: session_id=8f3a1c9e5b7d2f40a6c1e9b3d5f7a2c4; theme=dark"
    )
    case $1 in
    get)
        SCENARIO_DESCRIPTION="Benign browser GET /api/hello?id=42&q=shoes (User-Agent, Accept*, Referer, two cookies): OWASP CRS $(crs_version) PL1 blocking in gatehouse's waf plugin and in nginx+ModSecurity, against both proxies without a WAF."
        SCENARIO_METHOD=GET
        SCENARIO_PATH="/api/hello?id=42&q=shoes"
        SCENARIO_HEADERS+=("Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        ;;
    post)
        SCENARIO_DESCRIPTION="Benign 4 KB JSON POST /api/orders (browser headers, two cookies): OWASP CRS $(crs_version) PL1 blocking, request body inspected, in gatehouse's waf plugin and in nginx+ModSecurity, against both proxies without a WAF."
        SCENARIO_METHOD=POST
        SCENARIO_PATH=/api/orders
        SCENARIO_BODY_FILE=waf-crs-post.json
        SCENARIO_HEADERS+=(
            "Accept: application/json"
            "Content-Type: application/json"
            "Origin: https://shop.example.com"
        )
        ;;
    *) die "waf_scenario: expected get or post, got $1" ;;
    esac
}

scenario_gatehouse_plain_config() {
    plain_api_service
}

scenario_gatehouse_config() {
    scenario_gatehouse_plain_config
    cat <<'EOF2'
        plugins:
          - name: waf
            config:
              mode: block
              crs:
                path: @CRS_DIR@
                paranoia_level: 1
EOF2
}

# nginx and nginx-modsec (which adds ModSecurity at http level).
scenario_nginx_locations() {
    cat <<'EOF2'
location /api {
    proxy_pass http://@NGINX_UPSTREAM@;
}
EOF2
}
