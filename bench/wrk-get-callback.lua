-- wrk script for bench/ad_events.py: keep-alive GET install callbacks as ad networks send them,
-- the network key in the URL, every callback numbered (one wrk thread, so the event ids are
-- unique) and tagged with the run, whose app id it is. Ends with one JSON line.
local network = os.getenv("SLUICE_BENCH_NETWORK")
local key = os.getenv("SLUICE_BENCH_NETWORK_KEY")
local app = os.getenv("SLUICE_BENCH_APP")
local occurred_at = os.getenv("SLUICE_BENCH_OCCURRED_AT")
local n = 0

request = function()
    n = n + 1
    local path = string.format(
        "/api/v1/events/%s/install?key=%s&version=1&event_id=%s-%d&app_id=%s&occurred_at=%s"
            .. "&device_id=DEV-%d&campaign=bench&country=DE",
        network, key, app, n, app, occurred_at, n % 1000)
    return wrk.format("GET", path)
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
