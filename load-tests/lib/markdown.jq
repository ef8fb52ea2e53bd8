# Renders the report JSON (aggregate.jq's output) as markdown. Use jq -r.

def fixed($n):
  if . == null then "–"
  else (. * pow(10; $n) | round) as $i
    | ($i | if . < 0 then -. else . end | tostring) as $s
    | (if ($s | length) <= $n then ("0" * ($n - ($s | length) + 1)) + $s else $s end) as $p
    | (if $i < 0 then "-" else "" end)
      + (if $n == 0 then $p else $p[:-$n] + "." + $p[-$n:] end)
  end;
def commas:
  if . == null then "–"
  else (round | tostring) as $s
    | if ($s | length) <= 3 then $s
      else ($s[:-3] | tonumber | commas) + "," + $s[-3:] end
  end;
def ms: if . == null then "–" else (. / 1000 | fixed(3)) end;
def x: if . == null then "–" else fixed(2) end;
def row(cells): "| " + (cells | join(" | ")) + " |";

def cmp: if .op == ">=" then "≥" else "≤" end;
# Targets of SCENARIO_RATIOS entries, e.g. "nginx-modsec/gatehouse 24.10 (target ≥ 20.00)".
def ratio_targets:
  [(.ratios // [])[] | select(.target != null)
   | "\(.name) \(.cpu_us_per_req | x) (target \(.target | cmp) \(.target.value | x)\(if .met == false then ", missed" else "" end))"];
def with_ratio_targets($line):
  ratio_targets as $t
  | if ($t | length) == 0 then $line
    elif .target_cpu_ratio == null then ($t | join("; "))
    else $line + "; " + ($t | join("; ")) end;

def verdict_line:
  if .verdict == "ERROR" then
    "**ERROR** — the scenario did not run to completion: \(.error)"
  elif .verdict == "INVALID" then
    "**INVALID** — errors or missing upstream requests, figures must not be used: "
    + (.invalid_reasons | if length == 0 then "no measurements" else join(" / ") end)
  elif .verdict == "NO TARGET" then
    "**NO TARGET** — \(.subject)/\(.baseline) CPU per request ratio \(.cpu_ratio | x) (no target set)"
  elif .verdict == "PASS" then
    "**PASS** — " + with_ratio_targets("\(.subject) CPU per request is \(.cpu_ratio | x)× \(.baseline) (target ≤ \(.target_cpu_ratio | x))")
  else
    "**FAIL** — " + with_ratio_targets("\(.subject) CPU per request is \(.cpu_ratio | x)× \(.baseline) (target ≤ \(.target_cpu_ratio | x))")
  end;

def scenario_section:
  . as $s
  | $s.contenders as $cs
  | [$cs[] | select(. != $s.baseline)] as $others
  | [$others[] | select(. != $s.subject)] as $thirds
  | ($s.ratios_subject_vs // {}) as $sv
  # The ratio columns: the scenario's own SCENARIO_RATIOS, else every
  # contender over the baseline and the subject over every third contender.
  | (if ($s.ratios // []) != [] then [$s.ratios[] | {head: .name, v: .}]
     else [$others[] | {head: "\(.)/\($s.baseline)", v: $s.ratios_vs_baseline[.]}]
          + [$thirds[] | {head: "\($s.subject)/\(.)", v: $sv[.]}] end) as $cols
  | "## Scenario `\($s.name)`",
    "",
    $s.description,
    "",
    "Request: `\($s.request.method // "?") \($s.request.path // "?")` — definition: `\($s.file // "?")`"
    + (if $s.wrk_timeout then " — wrk request timeout \($s.wrk_timeout) (`SCENARIO_WRK_TIMEOUT`)" else "" end),
    "",
    "Verdict: " + ($s | verdict_line),
    "",
    (if ($s.measurements | length) == 0 then empty else
      (row([($s.summary[$s.baseline].rounds | if . == 1 then "Single round" else "Median of \(.) rounds" end)] + $cs
           + [$cols[] | .head])),
      (row(["---"] + [$cs[] | "---:"] + [$cols[] | "---:"])),
      (row(["**CPU µs/request**"] + [$cs[] | $s.summary[.].cpu_us_per_req | fixed(2)]
           + [$cols[] | "**" + (.v.cpu_us_per_req | x) + "**"])),
      (row(["requests/s"] + [$cs[] | $s.summary[.].rps | commas] + [$cols[] | .v.rps | x])),
      (row(["p50 latency (ms)"] + [$cs[] | $s.summary[.].p50_us | ms] + [$cols[] | .v.p50 | x])),
      (row(["p99 latency (ms)"] + [$cs[] | $s.summary[.].p99_us | ms] + [$cols[] | .v.p99 | x])),
      (row(["CPU µs/request, min–max"] + [$cs[] | $s.summary[.] | "\(.cpu_us_per_req_min | fixed(2))–\(.cpu_us_per_req_max | fixed(2))"]
           + [$cols[] | ""])),
      (row(["socket errors / non-2xx (all rounds)"] + [$cs[] | $s.summary[.] | "\(.socket_errors) / \(.non2xx)"]
           + [$cols[] | ""])),
      "",
      (if ($s.ratios // []) != [] then
         "Ratios are first contender/second contender"
       else
         "Ratios are contender/\($s.baseline)"
         + (if ($thirds | length) > 0 then " and \($s.subject)/other contender" else "" end)
       end)
      + ": above 1 means more CPU per request or more latency, below 1 means fewer requests/s.",
      "",
      "<details><summary>Per-round measurements (run order)</summary>",
      "",
      row(["Round", "Contender", "requests/s", "p50 (ms)", "p99 (ms)", "CPU s", "CPU µs/req", "requests", "upstream requests", "socket err", "non-2xx", "valid"]),
      row(["---:", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---"]),
      ($s.measurements[]
       | row([(.round | tostring), .contender, (.rps | commas), (.latency_us.p50? | ms), (.latency_us.p99? | ms),
              (.cpu_s | fixed(2)), (.cpu_us_per_req | fixed(2)), (.requests | commas), (.upstream_requests | commas),
              (.errors.socket_total | tostring), (.errors.status | tostring),
              (if .valid then "yes" else "**no**: " + (.invalid_reasons | join("; ")) end)])),
      "",
      "</details>",
      ""
    end);

. as $r
| "# Gatehouse load test: \($r.scenario_set)",
  "",
  "Generated \($r.generated_at) by `load-tests/run.sh`.",
  "",
  (if $r.stand_in then
     "> **STAND-IN RUN**: `gatehouse` was replaced by `GATEHOUSE_BIN_OVERRIDE`; these are not gatehouse figures.\n"
   else empty end),
  "## Summary",
  "",
  row(["Scenario", "Subject", "CPU/request ratio vs baseline", "Target", "Verdict", "Other CPU/request ratios"]),
  row(["---", "---", "---:", "---:", "---", "---"]),
  ($r.scenarios[] | row(["`\(.name)`", "\(.subject // "–")/\(.baseline // "–")",
                         (if (.verdict == "INVALID" or .verdict == "ERROR") and .cpu_ratio != null
                          then "~~" + (.cpu_ratio | x) + "~~" else (.cpu_ratio | x) end),
                         (if .target_cpu_ratio == null then "–" else "≤ " + (.target_cpu_ratio | x) end),
                         "**\(.verdict)**",
                         (. as $s
                          | if ($s.ratios // []) != [] then
                              [$s.ratios[] | select(.name != "\($s.subject)/\($s.baseline)")
                               | "\(.name) \(.cpu_us_per_req | x)"
                                 + (if .target == null then "" else " (\(.target | cmp) \(.target.value | x))" end)]
                            else
                              [($s.contenders // [])[] | select(. != $s.baseline and . != $s.subject)
                               | "\(.)/\($s.baseline) \($s.ratios_vs_baseline[.].cpu_us_per_req | x)",
                                 "\($s.subject)/\(.) \(($s.ratios_subject_vs // {})[.].cpu_us_per_req | x)"]
                            end
                          | if length == 0 then "–" else join(", ") end)])),
  "",
  ($r.scenarios[] | scenario_section),
  "## Machine",
  "",
  "| | |",
  "| --- | --- |",
  "| CPUs (nproc) | \($r.machine.nproc) |",
  "| CPU model | \($r.machine.cpu_model) |",
  "| Kernel | \($r.machine.kernel) |",
  "| Load average at start | \($r.machine.loadavg_at_start) |",
  "| wrk | \($r.machine.wrk_version) |",
  ($r.contenders | to_entries[] | "| \(.key) | \(.value.version) |"),
  "",
  "## Parameters",
  "",
  "| | |",
  "| --- | --- |",
  "| Proxy workers (nginx `worker_processes`, gatehouse `workers`) | \($r.parameters.workers) |",
  "| wrk threads / connections | \($r.parameters.threads) / \($r.parameters.connections) |",
  "| Warm-up run before each measured run | \($r.parameters.warmup_s) s |",
  "| Measured run | \($r.parameters.duration_s) s |",
  "| Rounds (interleaved, median reported) | \($r.parameters.rounds) |",
  "| wrk request timeout | \($r.parameters.wrk_timeout) |",
  (if $r.parameters.contenders_only then
     "| Partial run: only these contenders (`CONTENDERS`), targets dropped | \($r.parameters.contenders_only) |"
   else empty end),
  "| Clock ticks per second (getconf CLK_TCK) | \($r.parameters.clk_tck) |",
  "",
  "## Method",
  "",
  "- Everything runs on 127.0.0.1: a private single-worker nginx upstream answering `200 ok` (keepalive, no access log), nginx as a plain reverse proxy (upstream keepalive 64, HTTP/1.1, no access log, setting the same headers as gatehouse: Host, X-Forwarded-For/-Proto/-Host/-Port, X-Real-IP, and an X-Request-Id upstream and in the response) and gatehouse, both with the same number of workers, and `wrk --latency` as the client.",
  (if $r.contenders.pingora then
     "- pingora (where a scenario lists it): `crates/gatehouse/examples/pingora_baseline.rs`, a Pingora proxy with no logic of its own (same Pingora version, features and allocator as gatehouse, same thread count, no timeouts, no added headers) forwarding every request unchanged: the floor gatehouse is built on. gatehouse/pingora is what gatehouse adds, pingora/nginx what Pingora itself costs."
   else empty end),
  (if $r.contenders["nginx-modsec"] then
     "- nginx-modsec (where a scenario lists it): the same nginx proxy with Debian's ModSecurity v3 module (libmodsecurity3) running OWASP CRS at paranoia level 1 in blocking (anomaly scoring) mode, request body access on, response body access and audit log off; configuration generated by `contenders/nginx-modsec.sh`."
   else empty end),
  "- Each round measures every contender in turn (\($r.scenarios[0].contenders // [] | join(", "))), each with a warm-up run followed by the measured run; the tables show the median over the rounds.",
  "- Requests/s and latency percentiles are wrk's exact figures, printed as JSON by a Lua `done()` hook.",
  "- CPU time is utime+stime (fields 14 and 15 of `/proc/<pid>/stat`, all threads) read just before and just after the measured run, divided by CLK_TCK; CPU µs/request = CPU seconds × 10⁶ / requests completed in that run.",
  ($r.contenders | to_entries[] | "- CPU scope for \(.key): \(.value.cpu_scope)."),
  "- A round is invalid when wrk reports any socket error (connect, read, write, timeout) or status error (HTTP status ≥ 400), when the upstream's `stub_status` request counter grew by less than the number of responses wrk received (the proxy answered by itself), or when a measured process exited or was respawned. A scenario with any invalid round is reported as INVALID.",
  "- Before measuring, the scenario request is sent once through every contender with curl and must get a 2xx (and, with the default upstream, the body `ok`)."
