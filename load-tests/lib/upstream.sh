# shellcheck shell=bash
# The fast upstream: a private single-worker nginx answering every request
# itself, with keepalive, access_log off, plus a stub_status endpoint on a
# second port so the harness can check that every request wrk counted really
# reached the upstream (a proxy answering by itself cannot look fast).

UPSTREAM_ADDR=""       # host:port the proxies forward to
UPSTREAM_STATS_URL=""  # stub_status URL

default_upstream_locations() {
    cat <<'EOF'
location / {
    return 200 "ok";
}
EOF
}

upstream_start() { # SCENARIO_WORK_DIR
    local prefix=$1/upstream port stats locations
    mkdir -p "$prefix"
    port=$(free_port)
    stats=$(free_port)
    if declare -F scenario_upstream_locations >/dev/null; then
        locations=$(scenario_upstream_locations)
    else
        locations=$(default_upstream_locations)
    fi
    {
        nginx_main_block "$prefix" 1
        echo "http {"
        nginx_http_common "$prefix"
        cat <<EOF
    server {
        listen 127.0.0.1:$port backlog=4096;
        server_name _;
$(indent '        ' <<<"$locations")
    }
    server {
        listen 127.0.0.1:$stats;
        location = /stub_status {
            stub_status;
        }
    }
}
EOF
    } >"$prefix/nginx.conf"
    nginx_start upstream "$prefix/nginx.conf" "$prefix" 1 127.0.0.1 "$port"
    # shellcheck disable=SC2034  # used by the contenders
    UPSTREAM_ADDR=127.0.0.1:$port
    UPSTREAM_STATS_URL=http://127.0.0.1:$stats/stub_status
}

# upstream_request_count : total requests the upstream has handled so far
# (the third number of stub_status' "accepts handled requests" line).
upstream_request_count() {
    curl -fsS --max-time 5 "$UPSTREAM_STATS_URL" | awk 'NR == 3 { print $3 }'
}
