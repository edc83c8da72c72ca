-- Reads the generation counters of many cache tags at once (see cache_generation.lua, whose
-- read path this repeats for each key: a missing counter starts at the server's clock).
--
-- KEYS     generation keys of the tags
-- ARGV[1]  lifetime of a generation key created here, in milliseconds
--
-- Returns the current generation of each tag, in the order of KEYS.
local out = {}
local now = nil
for i, key in ipairs(KEYS) do
  local gen = redis.call('GET', key)
  if not gen then
    if not now then
      local t = redis.call('TIME')
      now = t[1] .. string.format('%06d', tonumber(t[2]))
    end
    gen = now
    redis.call('SET', key, gen, 'PX', ARGV[1])
  end
  out[i] = gen
end
return out
