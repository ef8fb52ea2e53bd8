-- Appended by run.sh to every generated wrk script: prints one JSON line with
-- exact figures (wrk's own text output rounds them). Latencies are in
-- microseconds. wrk counts a response as a "status" error when its status
-- code is >= 400; 3xx responses are caught by run.sh's curl pre-check.
done = function(summary, latency, requests)
  local e = summary.errors
  if summary.requests == 0 then
    io.write(string.format(
      'WRK_JSON {"requests":0,"duration_us":%d,"bytes":0,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
      '"latency_us":null}\n',
      summary.duration, e.connect, e.read, e.write, e.timeout, e.status))
    return
  end
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"latency_us":{"min":%d,"mean":%.2f,"stdev":%.2f,"max":%d,' ..
    '"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
