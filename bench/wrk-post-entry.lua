-- wrk script for bench/logs.py: keep-alive POSTs of one log entry each, every entry numbered
-- (one wrk thread, so the numbers are unique) and tagged with the run, so that reading the topic
-- back can tell this run's entries apart and find any entry twice. Ends with one JSON line;
-- "timeouts" are answers slower than wrk's --timeout, counted in "requests" but not in the
-- latencies.
local run = os.getenv("SLUICE_BENCH_RUN")
local app_key = os.getenv("SLUICE_BENCH_APP_KEY")
-- As many users as connections, as the project's generator has: the bridge keys records by user,
-- so this spreads the produce over the topic's partitions the same way.
local users = tonumber(os.getenv("SLUICE_BENCH_USERS") or "1")
local headers = { ["AppKey"] = app_key, ["Content-Type"] = "application/json" }
local n = 0

request = function()
    n = n + 1
    local body = string.format(
        '{"user_id":"user-%d","device_details":"pixel-8","desc":"benchmark entry %d",'
            .. '"app_platform":"android","timestamp":"1795342500000","bench_run":"%s"}',
        n % users, n, run)
    return wrk.format("POST", nil, headers, body)
end

done = function(summary, latency, requests)
    local errors = summary.errors
    io.write(string.format(
        '{"requests":%d,"non_2xx":%d,"socket_errors":%d,"timeouts":%d,"microseconds":%d,'
            .. '"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}\n',
        summary.requests, errors.status, errors.connect + errors.read + errors.write, errors.timeout,
        summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        latency.max / 1000))
end
