-- POST /iot/d?k=<key>&i=<device>: one UltraLight 2.0 measure (temperature, humidity) of a
-- device drawn in turn from BENCH_DEVICES ones, as a fleet posting over HTTP would
local devices = tonumber(os.getenv("BENCH_DEVICES") or "1000")
local key = os.getenv("BENCH_APIKEY") or "bench-key"
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
request = function()
  counter = counter + 1
  local path = string.format("/iot/d?k=%s&i=dev-%06d", key, counter % devices)
  local body = string.format("t|%.1f|h|%d", 15 + (counter % 200) / 10, 30 + counter % 50)
  return wrk.format(nil, path, nil, body)
end
