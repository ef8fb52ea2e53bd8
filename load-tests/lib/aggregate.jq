# Turns the raw per-scenario data into the report JSON.
# Input: {run: <run.json>, scenarios: [{meta, measurements, error}]}

def median:
  map(select(. != null)) | sort | length as $n
  | if $n == 0 then null
    elif $n % 2 == 1 then .[($n - 1) / 2]
    else (.[$n / 2 - 1] + .[$n / 2]) / 2 end;

def ratio($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;

def summarize($ms):
  {
    rounds: ($ms | length),
    rps: ($ms | map(.rps) | median),
    p50_us: ($ms | map(.latency_us.p50?) | median),
    p99_us: ($ms | map(.latency_us.p99?) | median),
    cpu_us_per_req: ($ms | map(.cpu_us_per_req) | median),
    cpu_us_per_req_min: ($ms | map(.cpu_us_per_req) | map(select(. != null)) | min),
    cpu_us_per_req_max: ($ms | map(.cpu_us_per_req) | map(select(. != null)) | max),
    requests_total: ($ms | map(.requests) | add // 0),
    socket_errors: ($ms | map(.errors.socket_total) | add // 0),
    non2xx: ($ms | map(.errors.status) | add // 0),
    invalid_rounds: ($ms | map(select(.valid | not) | .round)),
    valid: (($ms | length) > 0 and ($ms | all(.valid)))
  };

.run as $run
| $run + {
    scenarios: [
      .scenarios[]
      | .meta as $meta
      | .measurements as $all
      | .error as $error
      | ($meta.contenders // []) as $cs
      | ([$cs[] as $c | {key: $c, value: summarize([$all[] | select(.contender == $c)])}]
         | from_entries) as $summary
      | ($summary[$meta.baseline // ""]) as $base
      | ([$cs[] | select(. != $meta.baseline) as $c | $summary[$c] as $s
          | {key: $c, value: {
              rps: ratio($s.rps; $base.rps),
              p50: ratio($s.p50_us; $base.p50_us),
              p99: ratio($s.p99_us; $base.p99_us),
              cpu_us_per_req: ratio($s.cpu_us_per_req; $base.cpu_us_per_req)}}]
         | from_entries) as $ratios
      # The subject against every other non-baseline contender, e.g.
      # gatehouse/pingora: what gatehouse adds on top of the Pingora floor.
      | ($summary[$meta.subject // ""]) as $subj
      | ([$cs[] | select(. != $meta.baseline and . != $meta.subject) as $c | $summary[$c] as $o
          | {key: $c, value: {
              rps: ratio($subj.rps; $o.rps),
              p50: ratio($subj.p50_us; $o.p50_us),
              p99: ratio($subj.p99_us; $o.p99_us),
              cpu_us_per_req: ratio($subj.cpu_us_per_req; $o.cpu_us_per_req)}}]
         | from_entries) as $subject_ratios
      # SCENARIO_RATIOS: ratios the scenario names itself, some with a
      # target, e.g. nginx-modsec/gatehouse>=20 (only those whose two
      # contenders ran).
      | ([($meta.ratios // [])[]
          | select(([.numerator, .denominator] - $cs) == [])
          | $summary[.numerator] as $n | $summary[.denominator] as $d
          | . + {name: "\(.numerator)/\(.denominator)",
                 rps: ratio($n.rps; $d.rps),
                 p50: ratio($n.p50_us; $d.p50_us),
                 p99: ratio($n.p99_us; $d.p99_us),
                 cpu_us_per_req: ratio($n.cpu_us_per_req; $d.cpu_us_per_req)}
          | .met = (if .target == null or .cpu_us_per_req == null then null
                    elif .target.op == ">=" then .cpu_us_per_req >= .target.value
                    else .cpu_us_per_req <= .target.value end)]) as $named
      | ($ratios[$meta.subject // ""].cpu_us_per_req) as $headline
      | ([$cs[] as $c | $all[] | select(.contender == $c and (.valid | not))
          | "\($c) round \(.round): \(.invalid_reasons | join("; "))"]) as $invalid
      | $meta + {
          status: (if $error == null then "ok" else "error" end),
          error: $error,
          summary: $summary,
          ratios_vs_baseline: $ratios,
          ratios_subject_vs: $subject_ratios,
          cpu_ratio: $headline,
          invalid_reasons: $invalid,
          measurements: $all
        }
      | (if $meta.ratios == null then . else .ratios = $named end)
      | ([$named[] | select(.target != null)]) as $targeted
      | .verdict = (
          if .status == "error" then "ERROR"
          elif ($invalid | length) > 0 or ($all | length) == 0 then "INVALID"
          elif .target_cpu_ratio == null and ($targeted | length) == 0 then "NO TARGET"
          elif (.target_cpu_ratio != null and $headline == null)
               or ($targeted | any(.met == null)) then "INVALID"
          elif (.target_cpu_ratio == null or $headline <= .target_cpu_ratio)
               and ($targeted | all(.met)) then "PASS"
          else "FAIL" end)
    ]
  }
