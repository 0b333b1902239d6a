-- GET /entities/{id} over the loaded ids (N from the environment)
local n = tonumber(os.getenv("BENCH_ENTITIES") or "100000")
request = function()
  return wrk.format("GET", "/ngsi-ld/v1/entities/urn:ngsi-ld:Vehicle:" .. math.random(0, n - 1))
end
