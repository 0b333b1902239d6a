-- POST /entities with a unique id per request
counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local id = string.format("urn:ngsi-ld:Vehicle:wrk-%d-%d", math.random(1, 1000000000), counter)
  local body = '{"id":"' .. id .. '","type":"Vehicle","speed":{"type":"Property","value":' ..
    (counter % 120) .. '},"brandName":{"type":"Property","value":"Hyundai"},' ..
    '"location":{"type":"GeoProperty","value":{"type":"Point","coordinates":[128.6,35.87]}}}'
  return wrk.format(nil, nil, nil, body)
end
