# shellcheck shell=bash
# Helpers to run private nginx instances (the upstream, the nginx proxy and
# any future nginx-based contender). Each instance lives in its own prefix
# directory under the scenario work directory, with its own pid file, error
# log and temp directories; /etc/nginx and the system nginx service are never
# used (nginx is started with -p/-c/-e pointing into the prefix).

declare -A NGINX_MASTER=()  # instance name -> master pid

# nginx_main_block PREFIX WORKERS : main-context directives shared by all
# instances.
nginx_main_block() {
    local prefix=$1 workers=$2
    cat <<EOF
daemon off;
master_process on;
worker_processes $workers;
pid $prefix/nginx.pid;
lock_file $prefix/nginx.lock;
error_log $prefix/error.log error;
worker_rlimit_nofile 65536;
events {
    worker_connections 8192;
}
EOF
}

# nginx_http_common PREFIX : http-context directives shared by all instances.
nginx_http_common() {
    local prefix=$1
    cat <<EOF
    access_log off;
    default_type text/plain;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    client_body_temp_path $prefix/tmp/client_body;
    proxy_temp_path $prefix/tmp/proxy;
    fastcgi_temp_path $prefix/tmp/fastcgi;
    uwsgi_temp_path $prefix/tmp/uwsgi;
    scgi_temp_path $prefix/tmp/scgi;
EOF
}

# nginx_start NAME CONF_FILE PREFIX WORKERS HOST PORT : validate the config,
# start nginx in the foreground (in the background of this shell), wait until
# it listens and all WORKERS worker processes exist.
nginx_start() {
    local name=$1 conf=$2 prefix=$3 workers=$4 host=$5 port=$6 pid i n
    mkdir -p "$prefix/tmp"
    if ! "$NGINX_BIN" -t -q -e "$prefix/error.log" -p "$prefix" -c "$conf" >"$prefix/configtest.log" 2>&1; then
        cat "$prefix/configtest.log" >&2
        show_log "$prefix/error.log"
        die "nginx config test failed for $name ($conf)"
    fi
    # 9>&-: do not pass run.sh's lock to long-running children
    "$NGINX_BIN" -e "$prefix/error.log" -p "$prefix" -c "$conf" >>"$prefix/stdout.log" 2>&1 9>&- &
    pid=$!
    track_pid "$pid" "nginx:$name" TERM
    NGINX_MASTER[$name]=$pid
    wait_listening "$host" "$port" 10 "$pid" "$prefix/error.log"
    for ((i = 0; i < 50; i++)); do
        n=$(children_of "$pid" | wc -l)
        [[ $n -ge $workers ]] && break
        sleep 0.1
    done
    [[ $n -ge $workers ]] || die "nginx $name: expected $workers worker processes, found $n"
    log "nginx $name up: master pid $pid, $workers worker(s), listening on $host:$port"
}

# nginx_worker_pids NAME : the worker processes (children of the master).
nginx_worker_pids() {
    children_of "${NGINX_MASTER[$1]}"
}
