-- wrk script: after the run, one line with the latency percentiles wrk's --latency table
-- does not print (p99.9) and the maximum, in microseconds, for bench/lib/stats.mjs' parseTails().
done = function(summary, latency, requests)
  io.write(string.format("TAILS p50=%.0f p90=%.0f p99=%.0f p99.9=%.0f p99.99=%.0f max=%.0f mean=%.0f\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency:percentile(99.99), latency.max, latency.mean))
end
