# Builds one measurement record from wrk's WRK_JSON line and the CPU/upstream
# counters taken around the measured run (see run.sh, measure()).
# Arguments: $contender $round $wrk $ticks $clk $nprocs $changed $upstream
#            $pids_before $pids_after
($wrk.errors) as $e
| ($e.connect + $e.read + $e.write + $e.timeout) as $socket_errors
| ($ticks / $clk) as $cpu_s
| {
    contender: $contender,
    round: $round,
    requests: $wrk.requests,
    duration_s: ($wrk.duration_us / 1e6),
    rps: (if $wrk.duration_us > 0 then $wrk.requests / ($wrk.duration_us / 1e6) else 0 end),
    bytes: $wrk.bytes,
    latency_us: $wrk.latency_us,
    errors: ($e + {socket_total: $socket_errors}),
    cpu_ticks: $ticks,
    cpu_s: $cpu_s,
    cpu_us_per_req: (if $wrk.requests > 0 then $cpu_s * 1e6 / $wrk.requests else null end),
    measured_processes: $nprocs,
    pids_before: ($pids_before | rtrimstr(" ")),
    pids_after: ($pids_after | rtrimstr(" ")),
    upstream_requests: $upstream,
    invalid_reasons: [
      (if $wrk.requests == 0 then "no request completed" else empty end),
      (if $socket_errors > 0 then
         "\($socket_errors) socket errors (connect \($e.connect), read \($e.read), write \($e.write), timeout \($e.timeout))"
       else empty end),
      (if $e.status > 0 then "\($e.status) non-2xx responses (status >= 400)" else empty end),
      (if $upstream < $wrk.requests then
         "upstream received only \($upstream) requests for \($wrk.requests) responses"
       else empty end),
      (if $changed then
         "measured process set changed during the run (exit/crash/respawn): [\($pids_before | rtrimstr(" "))] -> [\($pids_after | rtrimstr(" "))]"
       else empty end)
    ]
  }
| .valid = (.invalid_reasons | length == 0)
