# shellcheck shell=bash
# Report writing: machine facts, aggregation (aggregate.jq) and markdown
# rendering (markdown.jq).

# write_run_facts FILE : machine facts, parameters and contender versions.
# Uses NEEDED_ORDER (the contenders of the selected scenarios).
write_run_facts() {
    local file=$1 cpu_model c id versions='{}'
    cpu_model=$(awk -F': *' '/^(model name|Hardware|cpu model|Model)[[:space:]]*:/ { print $2; exit }' /proc/cpuinfo)
    for c in "${NEEDED_ORDER[@]}"; do
        id=${c//-/_}
        versions=$(jq -c --arg c "$c" --arg v "$("contender_${id}_version")" \
            --arg scope "$("contender_${id}_cpu_scope")" \
            '. + {($c): {version: $v, cpu_scope: $scope}}' <<<"$versions")
    done
    jq -n \
        --arg generated_at "$START_TS" \
        --arg set "$SCENARIO_SET" \
        --argjson stand_in "$([[ ${GATEHOUSE_IS_OVERRIDE:-0} == 1 ]] && echo true || echo false)" \
        --arg nproc "$(nproc)" \
        --arg kernel "$(uname -sr)" \
        --arg cpu_model "${cpu_model:-unknown}" \
        --arg loadavg "$(cut -d' ' -f1-3 /proc/loadavg)" \
        --arg wrk "$(wrk -v 2>&1 | head -n 1 | sed 's/ *Copyright.*//')" \
        --argjson contenders "$versions" \
        --argjson workers "$WORKERS" --argjson duration "$DURATION" --argjson warmup "$WARMUP" \
        --argjson connections "$CONNECTIONS" --argjson threads "$THREADS" --argjson rounds "$ROUNDS" \
        --arg wrk_timeout "$WRK_TIMEOUT" --argjson clk "$CLK_TCK" \
        --arg contenders_only "${CONTENDERS:-}" \
        '{
          schema: 1,
          generated_at: $generated_at,
          scenario_set: $set,
          stand_in: $stand_in,
          machine: {nproc: ($nproc | tonumber), kernel: $kernel, cpu_model: $cpu_model,
                    loadavg_at_start: $loadavg, wrk_version: $wrk},
          contenders: $contenders,
          parameters: ({workers: $workers, duration_s: $duration, warmup_s: $warmup,
                        connections: $connections, threads: $threads, rounds: $rounds,
                        wrk_timeout: $wrk_timeout, clk_tck: $clk}
                       + (if $contenders_only == "" then {} else {contenders_only: $contenders_only} end))
        }' >"$file"
}

# write_reports RUN_DIR RESULTS_DIR SET SCENARIO... : aggregate, write
# <SET>-<UTC timestamp>.{json,md} and latest.{json,md}; returns the exit
# status described in run.sh's usage.
write_reports() {
    local run_dir=$1 results_dir=$2 set=$3 s dir stamp base meta err
    shift 3
    mkdir -p "$results_dir"
    {
        for s in "$@"; do
            dir=$run_dir/$s
            mkdir -p "$dir"
            meta=$dir/meta.json
            [[ -s $meta ]] || jq -n --arg name "$s" \
                '{name: $name, description: "(scenario failed before it was loaded)", contenders: [], target_cpu_ratio: null}' >"$meta"
            [[ -f $dir/measurements.jsonl ]] || : >"$dir/measurements.jsonl"
            err=null
            if [[ -s $dir/error ]]; then err=$(jq -Rs 'rtrimstr("\n")' <"$dir/error"); fi
            jq -n --slurpfile meta "$meta" --slurpfile ms "$dir/measurements.jsonl" --argjson err "$err" \
                '{meta: $meta[0], measurements: $ms, error: $err}'
        done
    } | jq -s --slurpfile run "$run_dir/run.json" '{run: $run[0], scenarios: .}' |
        jq -f "$LT_DIR/lib/aggregate.jq" >"$run_dir/report.json"
    jq -r -f "$LT_DIR/lib/markdown.jq" "$run_dir/report.json" >"$run_dir/report.md"

    stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
    base=$results_dir/$set-$stamp
    cp "$run_dir/report.json" "$base.json"
    cp "$run_dir/report.md" "$base.md"
    cp "$run_dir/report.json" "$results_dir/latest.json"
    cp "$run_dir/report.md" "$results_dir/latest.md"
    log "report: $base.md (and .json); copied to $results_dir/latest.{md,json}"

    jq -r '.scenarios[] | "  \(.name): \(.verdict)" + (if .cpu_ratio then "  (CPU/request ratio \(.cpu_ratio * 100 | round / 100))" else "" end)' \
        "$run_dir/report.json" | while read -r line; do log "$line"; done

    if jq -e '[.scenarios[] | select(.verdict == "ERROR" or .verdict == "INVALID")] | length > 0' "$run_dir/report.json" >/dev/null; then
        return 3
    fi
    if [[ ${STRICT:-0} == 1 ]] && jq -e '[.scenarios[] | select(.verdict == "FAIL")] | length > 0' "$run_dir/report.json" >/dev/null; then
        return 4
    fi
    return 0
}
