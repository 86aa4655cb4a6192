-- wrk script: send -- N (default 16) GET /plaintext requests in one write and
-- count each response, for the pipelined HTTP cells of cmd/bench.
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do r[i] = wrk.format(nil, "/plaintext") end
  req = table.concat(r)
end
request = function() return req end
