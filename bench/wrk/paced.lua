-- Each connection is a client that waits a random think time between its requests
-- (exponential, mean BENCH_THINK_MS): an arrival rate below saturation, so the latencies are
-- the service time plus the queueing a city's clients would meet, not a saturated queue.
local mean = tonumber(os.getenv("BENCH_THINK_MS") or "100")
math.randomseed(os.time())
delay = function()
  return math.floor(-mean * math.log(1 - math.random()))
end
