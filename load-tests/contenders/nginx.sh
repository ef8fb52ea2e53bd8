# shellcheck shell=bash
# Contender "nginx": nginx as a plain reverse proxy, the baseline.
#
# Contender interface (see README.md, "Adding a contender"); for a contender
# named NAME (dashes become underscores in function names) a file
# contenders/NAME.sh defines:
#   contender_NAME_prepare    once per run (install/build); may set nothing
#   contender_NAME_version    one line for the report
#   contender_NAME_start DIR  start for the current scenario (work dir DIR),
#                             must set CONTENDER_URL[NAME] and register its
#                             processes with track_pid
#   contender_NAME_pids       pids whose CPU time is measured
#   contender_NAME_cpu_scope  one line describing what the pids cover

NGINX_UPSTREAM_NAME=gh_upstream

contender_nginx_prepare() { :; }

contender_nginx_version() {
    "$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //'
}

contender_nginx_cpu_scope() {
    echo "nginx worker processes (children of the master); the master is excluded because it is idle during the run"
}

# nginx_proxy_headers_file PREFIX : write the proxy settings every proxied
# location must have, and print the path. They are included at http level,
# so locations inherit them; a location that sets its own proxy_set_header
# (or add_header) must "include @PROXY_HEADERS@;" again (nginx does not
# merge them).
#
# The headers are the ones gatehouse sets on every proxied request, so both
# do the same work: the forwarding headers, and a request id (nginx's
# $request_id is, like gatehouse's, 32 random hex digits) sent upstream and
# returned to the client.
nginx_proxy_headers_file() {
    local file=$1/proxy_headers.conf
    cat >"$file" <<'EOF'
proxy_http_version 1.1;
proxy_set_header Connection "";
proxy_set_header Host $host;
proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
proxy_set_header X-Real-IP $remote_addr;
proxy_set_header X-Forwarded-Proto $scheme;
proxy_set_header X-Forwarded-Host $host;
proxy_set_header X-Forwarded-Port $server_port;
proxy_set_header X-Request-Id $request_id;
add_header X-Request-Id $request_id always;
EOF
    echo "$file"
}

# nginx_proxy_conf PREFIX PORT WORKERS LOCATIONS [MAIN_EXTRA] [HTTP_EXTRA] :
# print a reverse-proxy nginx.conf. Reusable by nginx-based contenders (for
# example nginx+ModSecurity: load_module in MAIN_EXTRA, modsecurity
# directives in HTTP_EXTRA or in its locations).
nginx_proxy_conf() {
    local prefix=$1 port=$2 workers=$3 locations=$4 main_extra=${5:-} http_extra=${6:-}
    # First: load_module must come before the events block.
    if [[ -n $main_extra ]]; then printf '%s\n' "$main_extra"; fi
    nginx_main_block "$prefix" "$workers"
    echo "http {"
    nginx_http_common "$prefix"
    cat <<EOF
    upstream $NGINX_UPSTREAM_NAME {
        server $UPSTREAM_ADDR;
        keepalive 64;
        keepalive_requests 1000000;
    }
    include $prefix/proxy_headers.conf;
EOF
    if [[ -n $http_extra ]]; then indent '    ' <<<"$http_extra"; fi
    cat <<EOF
    server {
        listen 127.0.0.1:$port backlog=4096;
        server_name _;
$(indent '        ' <<<"$locations")
    }
}
EOF
}

# nginx_proxy_start NAME DIR LOCATIONS_FUNCTION [MAIN_EXTRA] [HTTP_EXTRA]
nginx_proxy_start() {
    local name=$1 prefix=$2/$1 fn=$3 port locations
    declare -F "$fn" >/dev/null ||
        die "scenario $SCENARIO_NAME does not define $fn (needed by contender $name)"
    mkdir -p "$prefix"
    port=$(free_port)
    set_placeholder PROXY_HEADERS "$(nginx_proxy_headers_file "$prefix")"
    locations=$("$fn" | fill_placeholders) || die "rendering $fn failed"
    # shellcheck disable=SC2153  # WORKERS is set by run.sh
    nginx_proxy_conf "$prefix" "$port" "$WORKERS" "$locations" "${4:-}" "${5:-}" >"$prefix/nginx.conf"
    nginx_start "$name" "$prefix/nginx.conf" "$prefix" "$WORKERS" 127.0.0.1 "$port"
    set_contender_url "$name" "http://127.0.0.1:$port"
}

contender_nginx_start() {
    nginx_proxy_start nginx "$1" scenario_nginx_locations
}

contender_nginx_pids() {
    nginx_worker_pids nginx
}
