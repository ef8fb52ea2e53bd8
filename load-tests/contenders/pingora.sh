# shellcheck shell=bash
# Contender "pingora": the Pingora floor. A proxy built from the same Pingora
# version, features and allocator as gatehouse but with no logic of its own
# (crates/gatehouse/examples/pingora_baseline.rs): every request goes to the
# upstream unchanged. gatehouse/pingora is what gatehouse adds on top of
# Pingora; pingora/nginx is what Pingora itself costs. Only meaningful for
# scenarios where gatehouse does nothing nginx's plain proxy_pass does not
# (plain-get); scenarios with plugins leave it out of SCENARIO_CONTENDERS.
#
# Environment:
#   GATEHOUSE_SKIP_BUILD=1  do not run cargo; use the existing
#                           target/release/examples/pingora_baseline
#   PINGORA_STOP_SIGNAL     signal used to stop it (default INT, Pingora's
#                           fast shutdown)

PINGORA_BIN=""
PINGORA_PID=""

contender_pingora_prepare() {
    PINGORA_BIN=$REPO_DIR/target/release/examples/pingora_baseline
    if [[ ${GATEHOUSE_SKIP_BUILD:-0} != 1 ]]; then
        command -v cargo >/dev/null 2>&1 ||
            die "cargo not found; install a Rust toolchain (see rust-version in Cargo.toml)"
        log "building the Pingora baseline: cargo build --release -p gatehouse --example pingora_baseline"
        (cd "$REPO_DIR" && cargo build --release -p gatehouse --example pingora_baseline) >&2 ||
            die "cargo build --release -p gatehouse --example pingora_baseline failed"
    fi
    [[ -x $PINGORA_BIN ]] || die "Pingora baseline binary not found at $PINGORA_BIN"
}

contender_pingora_version() {
    local version sum
    version=$(awk '$0 == "name = \"pingora\"" { getline; gsub(/version = |"/, ""); print; exit }' \
        "$REPO_DIR/Cargo.lock" 2>/dev/null)
    sum=$(sha256sum "$PINGORA_BIN" | cut -c1-16)
    echo "Pingora ${version:-?} (crates/gatehouse/examples/pingora_baseline.rs, same features and allocator as gatehouse); binary sha256 $sum"
}

contender_pingora_cpu_scope() {
    echo "the pingora_baseline process (all threads)"
}

contender_pingora_start() {
    local dir=$1/pingora port pid
    mkdir -p "$dir"
    port=$(free_port)
    # shellcheck disable=SC2153  # WORKERS and UPSTREAM_ADDR are set by run.sh / upstream.sh
    "$PINGORA_BIN" "127.0.0.1:$port" "$UPSTREAM_ADDR" "$WORKERS" >"$dir/pingora.log" 2>&1 9>&- &
    pid=$!
    track_pid "$pid" pingora "${PINGORA_STOP_SIGNAL:-INT}"
    wait_listening 127.0.0.1 "$port" 30 "$pid" "$dir/pingora.log"
    PINGORA_PID=$pid
    set_contender_url pingora "http://127.0.0.1:$port"
    log "pingora baseline up: pid $pid, threads $WORKERS, listening on 127.0.0.1:$port"
}

contender_pingora_pids() {
    echo "$PINGORA_PID"
}
