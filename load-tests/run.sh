#!/usr/bin/env bash
# Gatehouse load-test harness: compares gatehouse with nginx as a plain
# reverse proxy in front of the same fast upstream, scenario by scenario.
# See load-tests/README.md.
set -Eeuo pipefail

LT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck disable=SC2034  # used by contenders/gatehouse.sh
REPO_DIR=$(cd "$LT_DIR/.." && pwd)
# OWASP CRS for the WAF scenarios and contender nginx-modsec: the
# repository's sibling folder, never a copy inside the repository.
CRS_DIR=${CRS_DIR:-$(cd "$REPO_DIR/.." && pwd)/shared/crs-v4.28.0}

usage() {
    cat <<EOF
Usage: load-tests/run.sh [-h] [scenario ...]

Runs the named scenarios (files in load-tests/scenarios/, without .sh), or
all of them when none is named, and writes a report to load-tests/results/.

Environment (defaults in brackets):
  WORKERS      worker processes/threads for nginx and gatehouse [1]
  DURATION     measured wrk run, seconds [15]
  WARMUP       warm-up wrk run before each measured run, seconds; 0 = none [3]
  CONNECTIONS  wrk connections [50]
  THREADS      wrk threads [1]
  ROUNDS       interleaved rounds (nginx, gatehouse, nginx, ...) [3]
  SKIP_CONTENDERS  contenders to leave out of every scenario, e.g. "pingora"
               (not a scenario's baseline or subject) []
  CONTENDERS   run only these of each scenario's contenders, e.g.
               "nginx nginx-modsec"; a left-out baseline or subject is
               replaced and the targets are dropped (NO TARGET) []
  CRS_DIR      OWASP CRS for the waf-* scenarios [../shared/crs-v4.28.0]
  WRK_TIMEOUT  wrk per-request timeout [2s]
  SCENARIO_SET name used in the result file names [all | scenario names]
  STRICT       1 = exit 4 when a valid scenario misses its target [0]
  RESULTS_DIR  where reports go [load-tests/results]
  GATEHOUSE_SKIP_BUILD=1, GATEHOUSE_BIN_OVERRIDE, GATEHOUSE_READY_TIMEOUT,
  GATEHOUSE_STOP_SIGNAL, NGINX_BIN: see README.md

Exit status: 0 all scenarios valid; 1 harness failure; 3 a scenario was
INVALID or failed to run (report still written); 4 (STRICT=1) a target
was missed; 130/143 interrupted.
EOF
}

WORKERS=${WORKERS:-1}
DURATION=${DURATION:-15}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
WRK_TIMEOUT=${WRK_TIMEOUT:-2s}
STRICT=${STRICT:-0}

# shellcheck source=lib/common.sh
source "$LT_DIR/lib/common.sh"
# shellcheck source=lib/nginx.sh
source "$LT_DIR/lib/nginx.sh"
# shellcheck source=lib/upstream.sh
source "$LT_DIR/lib/upstream.sh"
# shellcheck source=lib/report.sh
source "$LT_DIR/lib/report.sh"
for f in "$LT_DIR"/contenders/*.sh; do
    # shellcheck source=/dev/null
    source "$f"
done
unset f

declare -A CONTENDER_URL=()
# set_contender_url NAME URL : called by contender_NAME_start.
# shellcheck disable=SC2317  # invoked from contenders/*.sh
set_contender_url() { CONTENDER_URL[$1]=$2; }

# ------------------------------------------------------------- arguments --

SCENARIOS=()
for arg in "$@"; do
    case $arg in
    -h | --help)
        usage
        exit 0
        ;;
    -*)
        usage >&2
        die "unknown option $arg"
        ;;
    *)
        arg=${arg%.sh}
        arg=${arg##*/}
        [[ -f $LT_DIR/scenarios/$arg.sh ]] || die "no such scenario: $arg (looked for scenarios/$arg.sh)"
        SCENARIOS+=("$arg")
        ;;
    esac
done
if [[ ${#SCENARIOS[@]} -eq 0 ]]; then
    for f in "$LT_DIR"/scenarios/*.sh; do
        [[ -f $f ]] || continue
        f=${f##*/}
        SCENARIOS+=("${f%.sh}")
    done
    [[ ${#SCENARIOS[@]} -gt 0 ]] || die "no scenarios in $LT_DIR/scenarios"
    SCENARIO_SET=${SCENARIO_SET:-all}
else
    SCENARIO_SET=${SCENARIO_SET:-$(
        IFS=+
        echo "${SCENARIOS[*]}"
    )}
fi
[[ $SCENARIO_SET =~ ^[A-Za-z0-9._+-]+$ ]] || die "SCENARIO_SET may only contain letters, digits and . _ + -"

for v in WORKERS DURATION WARMUP CONNECTIONS THREADS ROUNDS; do
    is_uint "${!v}" || die "$v must be a non-negative integer (got '${!v}')"
done
for v in WORKERS DURATION CONNECTIONS THREADS ROUNDS; do
    [[ ${!v} -ge 1 ]] || die "$v must be at least 1"
done
[[ $CONNECTIONS -ge $THREADS ]] || die "CONNECTIONS ($CONNECTIONS) must be >= THREADS ($THREADS)"

# ------------------------------------------------------------- scenarios --

# Forget everything the previous scenario file defined.
reset_scenario() {
    local v fn
    for v in $(compgen -v SCENARIO_); do
        [[ $v == SCENARIO_SET || $v == SCENARIO_NAME ]] && continue
        unset "$v"
    done
    for fn in $(compgen -A function scenario_); do unset -f "$fn"; done
}

# load_scenario NAME : source scenarios/NAME.sh and validate it.
load_scenario() {
    local name=$1 fn c
    reset_scenario
    SCENARIO_NAME=$name
    SCENARIO_HEADERS=()
    # shellcheck source=/dev/null
    source "$LT_DIR/scenarios/$name.sh"
    : "${SCENARIO_DESCRIPTION:?scenario $name: SCENARIO_DESCRIPTION is not set}"
    : "${SCENARIO_PATH:?scenario $name: SCENARIO_PATH is not set}"
    SCENARIO_METHOD=${SCENARIO_METHOD:-GET}
    SCENARIO_CONTENDERS=${SCENARIO_CONTENDERS:-nginx gatehouse}
    SCENARIO_BASELINE=${SCENARIO_BASELINE:-nginx}
    SCENARIO_SUBJECT=${SCENARIO_SUBJECT:-gatehouse}
    if [[ -n ${SKIP_CONTENDERS:-} ]]; then
        local -a kept=()
        for c in $SCENARIO_CONTENDERS; do
            if [[ " $SKIP_CONTENDERS " == *" $c "* ]]; then
                [[ $c != "$SCENARIO_BASELINE" && $c != "$SCENARIO_SUBJECT" ]] ||
                    die "scenario $name: SKIP_CONTENDERS cannot skip $c, its baseline or subject"
            else
                kept+=("$c")
            fi
        done
        SCENARIO_CONTENDERS=${kept[*]}
    fi
    SCENARIO_TARGET_CPU_RATIO=${SCENARIO_TARGET_CPU_RATIO:-}
    SCENARIO_RATIOS=${SCENARIO_RATIOS:-}
    local r
    for r in $SCENARIO_RATIOS; do
        [[ $r =~ ^([A-Za-z0-9_-]+)/([A-Za-z0-9_-]+)((<=|>=)[0-9]+(\.[0-9]+)?)?$ ]] ||
            die "scenario $name: SCENARIO_RATIOS entry '$r' is not A/B, A/B<=N or A/B>=N"
        for c in "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"; do
            if [[ " ${SKIP_CONTENDERS:-} " == *" $c "* ]]; then
                [[ -z ${BASH_REMATCH[3]} ]] ||
                    die "scenario $name: SKIP_CONTENDERS cannot skip $c, it has a target ($r); CONTENDERS runs part of a scenario without targets"
            else
                [[ " $SCENARIO_CONTENDERS " == *" $c "* ]] ||
                    die "scenario $name: SCENARIO_RATIOS entry '$r': $c is not a contender"
            fi
        done
    done
    if [[ -n ${CONTENDERS:-} ]]; then
        # A partial run, to check one side of a scenario: keep the scenario's
        # order; the targets belong to the full comparison.
        local -a only=()
        for c in $SCENARIO_CONTENDERS; do
            [[ " $CONTENDERS " == *" $c "* ]] && only+=("$c")
        done
        [[ ${#only[@]} -gt 0 ]] || die "scenario $name: CONTENDERS='$CONTENDERS' leaves none of its contenders ($SCENARIO_CONTENDERS)"
        SCENARIO_CONTENDERS=${only[*]}
        [[ " $SCENARIO_CONTENDERS " == *" $SCENARIO_BASELINE "* ]] || SCENARIO_BASELINE=${only[0]}
        [[ " $SCENARIO_CONTENDERS " == *" $SCENARIO_SUBJECT "* ]] || SCENARIO_SUBJECT=${only[${#only[@]} - 1]}
        SCENARIO_TARGET_CPU_RATIO=""
        SCENARIO_RATIOS=$(sed -E 's/(<=|>=)[0-9.]+//g' <<<"$SCENARIO_RATIOS")
    fi
    for c in $SCENARIO_CONTENDERS; do
        fn=contender_${c//-/_}_start
        declare -F "$fn" >/dev/null || die "scenario $name: unknown contender '$c' (no contenders/$c.sh defining $fn)"
    done
    [[ " $SCENARIO_CONTENDERS " == *" $SCENARIO_BASELINE "* ]] || die "scenario $name: baseline $SCENARIO_BASELINE is not a contender"
    [[ " $SCENARIO_CONTENDERS " == *" $SCENARIO_SUBJECT "* ]] || die "scenario $name: subject $SCENARIO_SUBJECT is not a contender"
    if [[ -n $SCENARIO_TARGET_CPU_RATIO && ! $SCENARIO_TARGET_CPU_RATIO =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        die "scenario $name: SCENARIO_TARGET_CPU_RATIO must be a number"
    fi
    if [[ -n ${SCENARIO_WRK_TIMEOUT:-} && ! $SCENARIO_WRK_TIMEOUT =~ ^[0-9]+(ms|s|m)?$ ]]; then
        die "scenario $name: SCENARIO_WRK_TIMEOUT must be a wrk duration such as 10s"
    fi
    if [[ -z ${SCENARIO_EXPECT_BODY+x} ]] && ! declare -F scenario_upstream_locations >/dev/null; then
        SCENARIO_EXPECT_BODY=ok # what the default upstream answers
    fi
}

# write_wrk_script FILE : the wrk Lua script for the current scenario.
write_wrk_script() {
    local file=$1 h name value
    {
        echo "-- generated by load-tests/run.sh for scenario $SCENARIO_NAME"
        echo "wrk.method = $(lua_string "$SCENARIO_METHOD")"
        echo "wrk.path = $(lua_string "$SCENARIO_PATH")"
        for h in "${SCENARIO_HEADERS[@]}"; do
            name=${h%%:*}
            value=${h#*:}
            value=${value#"${value%%[! ]*}"}
            echo "wrk.headers[ $(lua_string "$name") ] = $(lua_string "$value")"
        done
        if [[ -n ${BODY_FILE:-} ]]; then
            echo "do"
            echo "  local f = assert(io.open($(lua_string "$BODY_FILE"), \"rb\"))"
            echo "  wrk.body = f:read(\"*a\")"
            echo "  f:close()"
            echo "end"
        fi
        if [[ -n ${SCENARIO_WRK_LUA:-} ]]; then
            echo "-- from $SCENARIO_WRK_LUA"
            cat "$LT_DIR/scenarios/$SCENARIO_WRK_LUA"
        fi
        cat "$LT_DIR/lib/wrk-report.lua"
    } >"$file"
}

# precheck CONTENDER : the scenario request must get a 2xx (and the expected
# body) through the contender, or the scenario fails.
precheck() {
    local c=$1 url code out=$SC_DIR/precheck-$1.body h
    local -a args=(-sS -o "$out" -w '%{http_code}' --max-time 10)
    [[ $SCENARIO_METHOD != GET ]] && args+=(-X "$SCENARIO_METHOD")
    for h in "${SCENARIO_HEADERS[@]}"; do args+=(-H "$h"); done
    [[ -n ${BODY_FILE:-} ]] && args+=(--data-binary "@$BODY_FILE")
    url=${CONTENDER_URL[$c]}$SCENARIO_PATH
    code=$(curl "${args[@]}" "$url" 2>"$SC_DIR/precheck-$c.err") || code="curl failed: $(cat "$SC_DIR/precheck-$c.err")"
    if [[ ! $code =~ ^2[0-9][0-9]$ ]]; then
        head -c 2000 "$out" >&2 2>/dev/null || true
        die "pre-check: $SCENARIO_METHOD $url via $c answered $code, expected 2xx"
    fi
    if [[ -n ${SCENARIO_EXPECT_BODY:-} && $(<"$out") != "$SCENARIO_EXPECT_BODY" ]]; then
        die "pre-check: $SCENARIO_METHOD $url via $c answered $code with body '$(head -c 200 "$out")', expected '$SCENARIO_EXPECT_BODY'"
    fi
    log "pre-check ok: $SCENARIO_METHOD $url via $c -> $code"
}

# Run a command in the background and wait for it, so that signal traps run
# immediately rather than after the command ends.
CHILD_PID=""
run_child() {
    local rc=0
    "$@" 9>&- &
    CHILD_PID=$!
    echo "$CHILD_PID" >>"$RUN_DIR/pids"
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return "$rc"
}

sum_ticks() { # PID... : total utime+stime of the pids, fails if one is gone
    local total=0 p t
    for p in "$@"; do
        t=$(cpu_ticks "$p") || return 1
        total=$((total + t))
    done
    echo "$total"
}

# measure CONTENDER ROUND : warm-up run, then the measured run; appends one
# JSON record to measurements.jsonl.
measure() {
    local c=$1 round=$2 id=${1//-/_} url log json before after up_before up_after p
    local pids_before pids_after changed=false
    local -a pids
    url=${CONTENDER_URL[$c]}/
    log="$SC_DIR/wrk-$c-round$round"
    for p in $("contender_${id}_pids"); do
        pid_alive "$p" || die "$c: process $p is not running any more (crashed or killed from outside?); logs in $SC_DIR/$c/"
    done
    if [[ $WARMUP -gt 0 ]]; then
        run_child wrk -t "$THREADS" -c "$CONNECTIONS" -d "${WARMUP}s" --timeout "$WRK_TIMEOUT" \
            -s "$SC_DIR/wrk.lua" "$url" >"$log-warmup.log" 2>&1 ||
            {
                show_log "$log-warmup.log"
                die "wrk warm-up against $c failed"
            }
    fi
    mapfile -t pids < <("contender_${id}_pids")
    [[ ${#pids[@]} -gt 0 && -n ${pids[0]} ]] || die "$c: no processes to measure"
    pids_before=$(printf '%s\n' "${pids[@]}" | sort -n | tr '\n' ' ')
    up_before=$(upstream_request_count) || die "cannot read upstream stub_status"
    before=$(sum_ticks "${pids[@]}") || die "$c: a measured process vanished before the run"
    run_child wrk -t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --timeout "$WRK_TIMEOUT" \
        --latency -s "$SC_DIR/wrk.lua" "$url" >"$log.log" 2>&1 ||
        {
            show_log "$log.log"
            die "wrk against $c failed"
        }
    if ! after=$(sum_ticks "${pids[@]}"); then
        after=$before
        changed=true
    fi
    up_after=$(upstream_request_count) || die "cannot read upstream stub_status"
    pids_after=$(printf '%s\n' "$("contender_${id}_pids")" | sort -n | tr '\n' ' ')
    [[ $pids_after == "$pids_before" ]] || changed=true
    if grep -qF "$SC_DIR/wrk.lua:" "$log.log"; then
        show_log "$log.log"
        die "wrk reported an error in the generated Lua script $SC_DIR/wrk.lua"
    fi
    json=$(sed -n 's/^WRK_JSON //p' "$log.log")
    [[ -n $json ]] || {
        show_log "$log.log"
        die "no WRK_JSON line in wrk output for $c"
    }
    jq -c -n \
        --arg contender "$c" --argjson round "$round" --argjson wrk "$json" \
        --argjson ticks "$((after - before))" --argjson clk "$CLK_TCK" \
        --argjson nprocs "${#pids[@]}" --argjson changed "$changed" \
        --argjson upstream "$((up_after - up_before))" \
        --arg pids_before "$pids_before" --arg pids_after "$pids_after" \
        -f "$LT_DIR/lib/measurement.jq" >>"$SC_DIR/measurements.jsonl"
    tail -n 1 "$SC_DIR/measurements.jsonl" | jq -r \
        '"round \(.round) \(.contender): \(.rps|floor) req/s, p50 \(.latency_us.p50 // "-")us, p99 \(.latency_us.p99 // "-")us, CPU \(.cpu_us_per_req // "-" | if type == "number" then (. * 100 | round / 100) else . end) us/req" + (if .valid then "" else "  INVALID: " + (.invalid_reasons | join("; ")) end)' |
        while read -r line; do log "$SCENARIO_NAME: $line"; done
}

# run_scenario NAME : runs in a subshell; everything it starts is stopped by
# its EXIT trap.
run_scenario() {
    local name=$1 c round
    SC_DIR=$RUN_DIR/$name
    mkdir -p "$SC_DIR"
    ERROR_FILE=$SC_DIR/error
    TRACKED_PIDS=()
    trap 'stop_all_tracked' EXIT
    trap '[[ -n $CHILD_PID ]] && kill -TERM "$CHILD_PID" 2>/dev/null; exit 143' TERM INT
    load_scenario "$name"
    log "=== scenario $name: $SCENARIO_DESCRIPTION"
    # This subshell only: a slow contender may need a longer timeout.
    WRK_TIMEOUT=${SCENARIO_WRK_TIMEOUT:-$WRK_TIMEOUT}
    jq -n --arg name "$name" --arg description "$SCENARIO_DESCRIPTION" \
        --arg target "$SCENARIO_TARGET_CPU_RATIO" --arg contenders "$SCENARIO_CONTENDERS" \
        --arg baseline "$SCENARIO_BASELINE" --arg subject "$SCENARIO_SUBJECT" \
        --arg method "$SCENARIO_METHOD" --arg path "$SCENARIO_PATH" \
        --arg file "load-tests/scenarios/$name.sh" --arg ratios "$SCENARIO_RATIOS" \
        --arg wrk_timeout "${SCENARIO_WRK_TIMEOUT:-}" \
        '{name: $name, description: $description, file: $file,
          request: {method: $method, path: $path},
          target_cpu_ratio: (if $target == "" then null else ($target | tonumber) end),
          contenders: ($contenders | split(" ") | map(select(. != ""))),
          baseline: $baseline, subject: $subject}
         + (if $ratios == "" then {} else
              {ratios: [$ratios | splits(" +") | select(. != "")
                        | capture("^(?<numerator>[^/]+)/(?<denominator>[^<>=]+)((?<op><=|>=)(?<value>.+))?$")
                        | {numerator, denominator,
                           target: (if .op == null then null else {op, value: (.value | tonumber)} end)}]}
            end)
         + (if $wrk_timeout == "" then {} else {wrk_timeout: $wrk_timeout} end)' >"$SC_DIR/meta.json"
    : >"$SC_DIR/measurements.jsonl"

    BODY_FILE=""
    if [[ -n ${SCENARIO_BODY_FILE:-} ]]; then
        BODY_FILE=$LT_DIR/scenarios/$SCENARIO_BODY_FILE
        [[ -f $BODY_FILE ]] || die "scenario $name: SCENARIO_BODY_FILE $BODY_FILE not found"
    elif [[ -n ${SCENARIO_BODY+x} ]]; then
        BODY_FILE=$SC_DIR/body.bin
        printf '%s' "$SCENARIO_BODY" >"$BODY_FILE"
    fi
    write_wrk_script "$SC_DIR/wrk.lua"

    upstream_start "$SC_DIR"
    set_placeholder UPSTREAM "$UPSTREAM_ADDR"
    set_placeholder NGINX_UPSTREAM "$NGINX_UPSTREAM_NAME"
    set_placeholder SCENARIO_DIR "$LT_DIR/scenarios"
    set_placeholder WORK_DIR "$SC_DIR"
    set_placeholder CRS_DIR "$CRS_DIR"
    for c in $SCENARIO_CONTENDERS; do
        "contender_${c//-/_}_start" "$SC_DIR"
    done
    for c in $SCENARIO_CONTENDERS; do
        precheck "$c"
    done
    for ((round = 1; round <= ROUNDS; round++)); do
        for c in $SCENARIO_CONTENDERS; do
            measure "$c" "$round"
        done
    done
    log "=== scenario $name done"
}

# ------------------------------------------------------------------- main --

mkdir -p "$LT_DIR/work"
exec 9>"$LT_DIR/work/.lock"
flock -n 9 || die "another load-test run holds $LT_DIR/work/.lock"
kill_stale_processes "$LT_DIR/work"
RUN_DIR=$LT_DIR/work/run
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"

SCENARIO_PID=""
# shellcheck disable=SC2317  # invoked by trap
on_signal() {
    trap - INT TERM
    if [[ -n $SCENARIO_PID ]]; then
        kill -TERM "$SCENARIO_PID" 2>/dev/null || true
        wait "$SCENARIO_PID" 2>/dev/null || true
    fi
    log "interrupted"
    exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'stop_all_tracked' EXIT

ensure_tools
CLK_TCK=$(getconf CLK_TCK)
is_uint "$CLK_TCK" || die "getconf CLK_TCK failed"

# Contenders needed by the selected scenarios, each prepared once.
declare -A NEEDED=()
NEEDED_ORDER=()
for s in "${SCENARIOS[@]}"; do
    contenders=$(
        load_scenario "$s" >/dev/null
        echo "$SCENARIO_CONTENDERS"
    ) || die "scenario $s is not valid"
    for c in $contenders; do
        if [[ -z ${NEEDED[$c]:-} ]]; then
            NEEDED[$c]=1
            NEEDED_ORDER+=("$c")
        fi
    done
done
for c in "${NEEDED_ORDER[@]}"; do
    "contender_${c//-/_}_prepare"
done

START_TS=$(date -u +%Y-%m-%dT%H:%M:%SZ)
write_run_facts "$RUN_DIR/run.json"

log "scenarios: ${SCENARIOS[*]}; WORKERS=$WORKERS DURATION=${DURATION}s WARMUP=${WARMUP}s CONNECTIONS=$CONNECTIONS THREADS=$THREADS ROUNDS=$ROUNDS"
for s in "${SCENARIOS[@]}"; do
    rc=0
    (run_scenario "$s") &
    SCENARIO_PID=$!
    wait "$SCENARIO_PID" || rc=$?
    SCENARIO_PID=""
    if [[ $rc -ne 0 ]]; then
        [[ -s $RUN_DIR/$s/error ]] || echo "scenario exited with status $rc (see logs in $RUN_DIR/$s)" >>"$RUN_DIR/$s/error"
        log "scenario $s FAILED: $(tail -n 1 "$RUN_DIR/$s/error")"
    fi
done

if [[ ${GATEHOUSE_IS_OVERRIDE:-0} == 1 ]]; then
    # Stand-in figures never go to results/.
    RESULTS_DIR=$LT_DIR/work/results
else
    RESULTS_DIR=${RESULTS_DIR:-$LT_DIR/results}
fi
rc=0
write_reports "$RUN_DIR" "$RESULTS_DIR" "$SCENARIO_SET" "${SCENARIOS[@]}" || rc=$?
exit "$rc"
