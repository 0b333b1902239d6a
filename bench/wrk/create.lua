-- POST /entities: a new ~450-byte vehicle per request (the shape of vehicles.py), ids unique
-- per run from a random prefix and a counter
local prefix = os.getenv("BENCH_RUN") or tostring(os.time())
local counter = 0
local brands = {"Hyundai", "Kia", "Genesis", "KG Mobility", "Renault Korea"}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local lon = 128.50 + (counter % 500) * 0.0004
  local lat = 35.80 + (math.floor(counter / 500) % 200) * 0.00065
  local body = string.format(
    '{"id":"urn:ngsi-ld:Vehicle:wrk-%s-%08d","type":"Vehicle",' ..
    '"vehicleType":{"type":"Property","value":"car"},' ..
    '"brandName":{"type":"Property","value":"%s"},' ..
    '"licensePlateIdentifier":{"type":"Property","value":"%02d가%04d"},' ..
    '"speed":{"type":"Property","value":%d,"unitCode":"KMH","observedAt":"2026-11-25T08:00:00Z"},' ..
    '"location":{"type":"GeoProperty","value":{"type":"Point","coordinates":[%.6f,%.6f]},' ..
    '"observedAt":"2026-11-25T08:00:00Z"}}',
    prefix, counter, brands[counter % 5 + 1], 10 + counter % 89, counter % 10000,
    counter % 120, lon, lat)
  return wrk.format(nil, nil, nil, body)
end
