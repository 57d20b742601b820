-- wrk script: write `depth` requests at once (HTTP/1.1 pipelining) so that one wrk thread
-- on core 1 can offer more load than one request per round trip allows. Headers given
-- with -H go into every request.
--   wrk -s tools/bench/pipeline.lua [-H 'Name: value']... URL -- [DEPTH (default 8)]
local pipelined

function init(args)
  local depth = tonumber(args[1] or "8") or 8
  local reqs = {}
  for i = 1, depth do
    reqs[i] = wrk.format()
  end
  pipelined = table.concat(reqs)
end

function request()
  return pipelined
end
