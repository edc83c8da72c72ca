-- Reads (ARGV[1] == "0") or bumps (ARGV[1] == "1") the generation counter of one cache tag.
--
-- KEYS[1]  generation key of the tag
-- ARGV[1]  "1" to invalidate the tag (bump), "0" to read
-- ARGV[2]  lifetime of the generation key, in milliseconds
--
-- Returns the current generation (after the bump, if any).
--
-- A missing counter starts at the server's clock in microseconds rather than at 0: if the key
-- is ever evicted or expires, restarting from 0 could reuse an old generation and resurrect
-- entries that were invalidated. The clock has moved on by far more microseconds than any
-- tag has seen invalidations, so a restarted counter is always ahead of every old one.
local gen = redis.call('GET', KEYS[1])
if not gen then
  local now = redis.call('TIME')
  gen = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', KEYS[1], gen, 'PX', ARGV[2])
end
if ARGV[1] == '1' then
  gen = redis.call('INCR', KEYS[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return gen
