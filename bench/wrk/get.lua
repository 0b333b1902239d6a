-- GET /entities/{id} of a random loaded vehicle (BENCH_ENTITIES of them, ids as in vehicles.py)
local n = tonumber(os.getenv("BENCH_ENTITIES") or "100000")
math.randomseed(os.time())
request = function()
  local id = string.format("urn:ngsi-ld:Vehicle:daegu-bench-%06d", math.random(0, n - 1))
  return wrk.format("GET", "/ngsi-ld/v1/entities/" .. id)
end
