# shellcheck shell=bash
# Shared helpers for the Gatehouse load-test harness. Sourced by run.sh.
#
# Expects LT_DIR (load-tests directory) and RUN_DIR (this run's scratch
# directory under load-tests/work/) to be set by the caller.

# ---------------------------------------------------------------- logging --

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
warn() { log "WARNING: $*"; }
die() {
    log "ERROR: $*"
    # Inside a scenario, remember the reason for the report.
    if [[ -n ${ERROR_FILE:-} ]]; then printf '%s\n' "$*" >>"$ERROR_FILE"; fi
    exit 1
}

# Print the last lines of a log file, indented, to stderr.
show_log() {
    local file=$1 lines=${2:-40}
    if [[ -s $file ]]; then
        log "---- last $lines lines of $file ----"
        tail -n "$lines" "$file" | sed 's/^/    | /' >&2
        log "---- end of $file ----"
    else
        log "($file is empty or missing)"
    fi
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# ------------------------------------------------------------ packages --

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

# apt_install PKG... : install Debian packages without letting their
# maintainer scripts start system services (e.g. the system nginx). A
# temporary /usr/sbin/policy-rc.d is created only if none exists, and removed
# again afterwards.
apt_install() {
    command -v apt-get >/dev/null 2>&1 ||
        die "missing packages ($*) and apt-get is not available; install them manually"
    local made_policy=0 rc=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        as_root sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d'
        made_policy=1
    fi
    log "installing packages: $*"
    as_root apt-get update -qq || rc=$?
    if [[ $rc -eq 0 ]]; then
        as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends "$@" >&2 || rc=$?
    fi
    if [[ $made_policy -eq 1 ]]; then
        as_root rm -f /usr/sbin/policy-rc.d
    fi
    [[ $rc -eq 0 ]] || die "apt-get install $* failed (rc=$rc)"
}

# ensure_tools : make sure every external tool the harness needs exists.
ensure_tools() {
    local missing=() spec cmd pkg
    # command:package
    for spec in curl:curl jq:jq wrk:wrk nginx:nginx awk:mawk getconf:libc-bin flock:util-linux; do
        cmd=${spec%%:*}
        pkg=${spec#*:}
        if [[ $cmd == nginx ]]; then
            [[ -x ${NGINX_BIN:-} ]] && continue
            command -v nginx >/dev/null 2>&1 && continue
            [[ -x /usr/sbin/nginx ]] && continue
        else
            command -v "$cmd" >/dev/null 2>&1 && continue
        fi
        missing+=("$pkg")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        apt_install "${missing[@]}"
    fi
    if [[ -z ${NGINX_BIN:-} ]]; then
        NGINX_BIN=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)
    fi
    [[ -x $NGINX_BIN ]] || die "nginx binary not found (NGINX_BIN=$NGINX_BIN)"
    export NGINX_BIN
}

# ------------------------------------------------------- /proc helpers --

# proc_stat_fields PID : print the fields of /proc/PID/stat after the
# "(comm)" field, i.e. starting with field 3 (state). Fails if PID is gone.
proc_stat_fields() {
    local line
    { line=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
    printf '%s\n' "${line##*) }"
}

# pid_alive PID : true if PID exists and is not a zombie.
pid_alive() {
    local f
    [[ -n $1 ]] || return 1
    f=$(proc_stat_fields "$1" 2>/dev/null) || return 1
    [[ ${f:0:1} != Z ]]
}

# cpu_ticks PID : utime+stime (fields 14 and 15 of /proc/PID/stat) in clock
# ticks. Covers every thread of the process. Fails if PID is gone.
cpu_ticks() {
    local -a f
    read -r -a f <<<"$(proc_stat_fields "$1")" || return 1
    [[ ${#f[@]} -gt 12 ]] || return 1
    # f[0] is field 3, so field 14 is f[11] and field 15 is f[12].
    echo $((f[11] + f[12]))
}

# children_of PID : direct child pids of PID (from /proc/*/stat field 4).
children_of() {
    local parent=$1 stat line rest ppid pid
    for stat in /proc/[0-9]*/stat; do
        { line=$(<"$stat"); } 2>/dev/null || continue
        rest=${line##*) }
        ppid=${rest#* }
        ppid=${ppid%% *}
        if [[ $ppid == "$parent" ]]; then
            pid=${stat#/proc/}
            echo "${pid%/stat}"
        fi
    done
}

# descendants_of PID : all descendant pids of PID (children first).
descendants_of() {
    local child
    for child in $(children_of "$1"); do
        echo "$child"
        descendants_of "$child"
    done
}

# ----------------------------------------------------------- processes --
# Every long-running process the harness starts is registered here so the
# EXIT trap can stop it, and its pid is appended to $RUN_DIR/pids so a later
# run can clean up after a run that was killed with SIGKILL.

declare -a TRACKED_PIDS=()
declare -A TRACKED_SIGNAL=()
declare -A TRACKED_NAME=()

track_pid() { # PID NAME [STOP_SIGNAL]
    TRACKED_PIDS+=("$1")
    TRACKED_NAME[$1]=$2
    TRACKED_SIGNAL[$1]=${3:-TERM}
    echo "$1" >>"$RUN_DIR/pids"
}

# stop_pid PID [SIGNAL] [TIMEOUT_S] : signal PID, wait for it (and the
# descendants it had) to exit, SIGKILL whatever is left after the timeout.
stop_pid() {
    local pid=$1 sig=${2:-TERM} timeout=${3:-10} desc i
    pid_alive "$pid" || {
        wait "$pid" 2>/dev/null || true
        return 0
    }
    desc=$(descendants_of "$pid")
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 10; i++)); do
        pid_alive "$pid" || break
        sleep 0.1
    done
    if pid_alive "$pid"; then
        warn "pid $pid (${TRACKED_NAME[$pid]:-?}) did not exit after SIG$sig within ${timeout}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    for i in $desc; do
        if pid_alive "$i"; then kill -KILL "$i" 2>/dev/null || true; fi
    done
}

stop_all_tracked() {
    local idx pid
    for ((idx = ${#TRACKED_PIDS[@]} - 1; idx >= 0; idx--)); do
        pid=${TRACKED_PIDS[idx]}
        stop_pid "$pid" "${TRACKED_SIGNAL[$pid]:-TERM}" 10
    done
    TRACKED_PIDS=()
}

# kill_stale_processes DIR : kill processes recorded in DIR/*/pids by an
# earlier run that did not get to clean up, but only if their command line
# still refers to the load-tests work directory (guards against pid reuse).
kill_stale_processes() {
    local work=$1 file pid cmdline i
    local -a stale=()
    for file in "$work"/*/pids; do
        [[ -f $file ]] || continue
        while read -r pid; do
            is_uint "$pid" || continue
            pid_alive "$pid" || continue
            cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
            if [[ $cmdline == *"$work"* ]]; then
                warn "stopping stale process $pid from an earlier run: $cmdline"
                kill -TERM "$pid" 2>/dev/null || true
                stale+=("$pid")
            fi
        done <"$file"
    done
    [[ ${#stale[@]} -gt 0 ]] || return 0
    for ((i = 0; i < 50; i++)); do
        for pid in "${stale[@]}"; do pid_alive "$pid" && break; done
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    for pid in "${stale[@]}"; do
        if pid_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
    done
}

# ----------------------------------------------------------------- ports --

declare -A USED_PORTS=()

# free_port : print a TCP port on 127.0.0.1 that nothing uses right now (no
# socket in any state in /proc/net/tcp{,6}). Stays below the default
# ephemeral range so wrk's client sockets cannot collide with it later.
free_port() {
    local busy port tries
    busy=$(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
        sort -u | while read -r hex; do echo $((16#$hex)); done)
    for ((tries = 0; tries < 1000; tries++)); do
        port=$((20000 + RANDOM % 12000))
        [[ -n ${USED_PORTS[$port]:-} ]] && continue
        grep -qx "$port" <<<"$busy" && continue
        USED_PORTS[$port]=1
        echo "$port"
        return 0
    done
    die "could not find a free TCP port"
}

# wait_http_200 URL TIMEOUT_S PID LOGFILE : wait until URL answers with HTTP 200,
# fail (printing LOGFILE) if PID dies or the timeout expires.
wait_http_200() {
    local url=$1 timeout=$2 pid=$3 logfile=$4 deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
            return 0
        fi
        if ! pid_alive "$pid"; then
            show_log "$logfile"
            die "process $pid exited before $url became ready"
        fi
        sleep 0.2
    done
    show_log "$logfile"
    die "$url did not answer 200 within ${timeout}s"
}

# wait_listening HOST PORT TIMEOUT_S PID LOGFILE : wait until a TCP connect works.
wait_listening() {
    local host=$1 port=$2 timeout=$3 pid=$4 logfile=$5 deadline=$((SECONDS + $3))
    while ((SECONDS < deadline)); do
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then
            return 0
        fi
        if ! pid_alive "$pid"; then
            show_log "$logfile"
            die "process $pid exited before listening on $host:$port"
        fi
        sleep 0.1
    done
    show_log "$logfile"
    die "nothing listening on $host:$port after ${timeout}s"
}

# ------------------------------------------------------------ OWASP CRS --

# crs_require : fail unless CRS_DIR (run.sh: the repository's sibling folder
# ../shared/crs-v4.28.0, never a copy inside the repository) holds a CRS.
crs_require() {
    [[ -f $CRS_DIR/crs-setup.conf.example && -d $CRS_DIR/rules ]] ||
        die "OWASP CRS not found at $CRS_DIR (needs crs-setup.conf.example and rules/): the WAF scenarios and contender nginx-modsec load CRS v4.28.0 from the repository's sibling folder ../shared/crs-v4.28.0; put it there or set CRS_DIR (do not copy it into the repository)"
}

# crs_version : the CRS version its rules declare, e.g. 4.28.0.
crs_version() {
    local v
    v=$(grep -ohE -m 1 "ver:'OWASP_CRS/[0-9.]+'" "$CRS_DIR/rules/REQUEST-901-INITIALIZATION.conf" 2>/dev/null) || true
    v=${v#*OWASP_CRS/}
    echo "${v%\'}"
}

# ---------------------------------------------------------- templating --

# fill_placeholders : read text on stdin, replace @NAME@ placeholders from
# the PLACEHOLDERS associative array, and fail on any placeholder left over.
declare -A PLACEHOLDERS=()
fill_placeholders() {
    local text key left
    text=$(cat)
    for key in "${!PLACEHOLDERS[@]}"; do
        text=${text//@"$key"@/${PLACEHOLDERS[$key]}}
    done
    left=$(grep -oE '@[A-Z][A-Z0-9_]*@' <<<"$text" | sort -u | tr '\n' ' ' || true)
    if [[ -n $left ]]; then
        die "unknown placeholder(s) in scenario template: $left"
    fi
    printf '%s\n' "$text"
}

# set_placeholder KEY VALUE : define @KEY@ for fill_placeholders.
set_placeholder() { PLACEHOLDERS[$1]=$2; }

# plain_api_service : the gatehouse YAML of one service (the upstream) with
# one prefix route /api and no plugins; the scenarios without a feature
# under test, and the `gatehouse-plain` contender of those with one.
plain_api_service() {
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

# indent PREFIX : copy stdin to stdout with PREFIX before every line.
indent() {
    local line
    while IFS= read -r line || [[ -n $line ]]; do printf '%s%s\n' "$1" "$line"; done
}

# lua_string S : S as a Lua long-bracket string literal.
lua_string() {
    local s=$1 eq='='
    while [[ $s == *"]$eq]"* ]]; do eq+='='; done
    printf '[%s[%s]%s]' "$eq" "$s" "$eq"
}
