-- waf-crs-get-varied: each request gets its own query string and
-- User-Agent; the rest of the request is the scenario's.
local n = 0
request = function()
  n = n + 1
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  headers["User-Agent"] =
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128." .. n
  return wrk.format(nil, "/api/hello?id=" .. n .. "&q=shoes" .. n, headers)
end
