#!/usr/bin/env bash
# HARNESS SELF-TEST ONLY -- this is NOT gatehouse.
#
# Stands in for the gatehouse binary so run.sh can be exercised before the
# gateway exists (or to test the harness' own checks):
#
#   GATEHOUSE_BIN_OVERRIDE=load-tests/tools/fake-gatehouse.sh load-tests/run.sh
#
# It reads the generated gatehouse config (`-c FILE`) with a few awk
# patterns (only the shape run.sh writes: first listener, admin address,
# workers, the first service url and its first route's paths), writes an
# nginx reverse-proxy config next to it and execs nginx in the foreground,
# with an admin server answering /readyz. Runs with an override are written
# to load-tests/work/results/, never to load-tests/results/.
#
# FAKE_GATEHOUSE_MODE selects a behaviour to test the harness' checks:
#   normal       proxy like the nginx contender (default)
#   no-upstream  answer 200 "ok" itself without contacting the upstream
#                (must be reported INVALID by the upstream request count)
#   flaky        answer about 1 request in 16 with a 500 (must be INVALID)
#   broken       answer 502 to everything (pre-check must fail: ERROR)
#   no-ready     never answer /readyz (readiness timeout: ERROR)
set -euo pipefail

conf=""
while [[ $# -gt 0 ]]; do
    case $1 in
    -c)
        conf=$2
        shift 2
        ;;
    *)
        echo "fake-gatehouse: unknown argument $1" >&2
        exit 2
        ;;
    esac
done
[[ -f $conf ]] || {
    echo "usage: fake-gatehouse.sh -c CONFIG" >&2
    exit 2
}

yaml_after() { # SECTION_REGEX KEY : first "KEY: value" after a line matching SECTION_REGEX
    awk -v sec="$1" -v key="$2" '
        $0 ~ sec { on = 1; next }
        on && $0 ~ "^[ -]*" key ":" { sub("^[ -]*" key ":[ ]*", ""); print; exit }
    ' "$conf"
}

listen=$(yaml_after '^  listeners:' address)
admin=$(yaml_after '^  admin:' address)
workers=$(yaml_after '^gatehouse:' workers)
upstream=$(yaml_after '^services:' url)
upstream=${upstream#http://}
paths=$(yaml_after '^services:' paths | tr -d '[]' | tr ',' ' ')
mode=${FAKE_GATEHOUSE_MODE:-normal}
nginx_bin=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}
for v in listen admin workers upstream paths; do
    [[ -n ${!v} ]] || {
        echo "fake-gatehouse: could not read $v from $conf" >&2
        exit 2
    }
done

prefix=$(cd "$(dirname "$conf")" && pwd)/fake-nginx
mkdir -p "$prefix/tmp"

# shellcheck disable=SC2016  # nginx variables, not shell ones
case $mode in
normal) action='proxy_pass http://fake_upstream;' ;;
no-upstream) action='return 200 "ok";' ;;
flaky) action='if ($request_id ~ "0$") { return 500; } proxy_pass http://fake_upstream;' ;;
broken) action='return 502;' ;;
no-ready) action='proxy_pass http://fake_upstream;' ;;
*)
    echo "fake-gatehouse: unknown FAKE_GATEHOUSE_MODE $mode" >&2
    exit 2
    ;;
esac
ready='return 200 "ready";'
[[ $mode == no-ready ]] && ready='return 503;'

locations=""
for p in $paths; do
    locations+="        location $p { $action }"$'\n'
done

cat >"$prefix/nginx.conf" <<EOF
# fake-gatehouse ($mode) -- harness self-test stand-in, not gatehouse
daemon off;
master_process on;
worker_processes $workers;
pid $prefix/nginx.pid;
error_log $prefix/error.log error;
events { worker_connections 8192; }
http {
    access_log off;
    default_type text/plain;
    keepalive_requests 1000000;
    client_body_temp_path $prefix/tmp/client_body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
    upstream fake_upstream { server $upstream; keepalive 64; keepalive_requests 1000000; }
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host \$host;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    proxy_set_header X-Real-IP \$remote_addr;
    proxy_set_header X-Forwarded-Proto \$scheme;
    proxy_set_header X-Forwarded-Host \$host;
    proxy_set_header X-Forwarded-Port \$server_port;
    proxy_set_header X-Request-Id \$request_id;
    add_header X-Request-Id \$request_id always;
    server {
        listen $listen;
$locations    }
    server {
        listen $admin;
        location = /readyz { $ready }
    }
}
EOF
exec "$nginx_bin" -e "$prefix/error.log" -p "$prefix" -c "$prefix/nginx.conf"
