-- tests/bench/wrk/report.lua - wrk -s: after the run, one machine-readable
-- line for tests/bench/bench_gateway.sh (wrk's --latency table stays the
-- human-readable form). Latencies in microseconds, as wrk records them.
--   bench: requests=N duration_us=D rps=R p50_us=.. p90_us=.. p99_us=..
--          max_us=.. non2xx=.. sockerr=..
done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "bench: requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d " ..
      "p99_us=%d max_us=%d non2xx=%d sockerr=%d\n",
      summary.requests, summary.duration,
      summary.requests / (summary.duration / 1e6),
      latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, e.status,
      e.connect + e.read + e.write + e.timeout))
end
