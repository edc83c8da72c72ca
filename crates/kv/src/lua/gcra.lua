-- One GCRA (generic cell rate algorithm) decision, atomically, on the server's clock.
--
-- KEYS[1]  theoretical arrival time (TAT) of the key, in microseconds since the epoch
-- ARGV[1]  emission interval T = period / burst, in microseconds (>= 1)
-- ARGV[2]  burst (>= 1)
--
-- Returns {allowed (0|1), remaining, retry_after_us, reset_after_us}.
--
-- The server's clock (TIME) is the only clock involved, so replicas whose clocks disagree
-- still share one consistent limit. Microseconds since the epoch (~1.7e15) stay well inside
-- the 2^53 range in which Lua's doubles are exact integers.
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
-- How far ahead of now the TAT may run while a request is still allowed.
local tolerance = interval * (burst - 1)

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

local tat = now
local stored = redis.call('GET', KEYS[1])
local parsed = stored and tonumber(stored)
if parsed and parsed > now then
  tat = parsed
end

local allow_at = tat - tolerance
if now < allow_at then
  -- Rejected: the state is left as is, so rejected requests do not push the limit back.
  return {0, 0, allow_at - now, tat - now}
end

local new_tat = tat + interval
local reset_after = new_tat - now
-- '%.0f' because tostring() would print 16 digits in exponent notation and lose precision.
-- The key outlives the TAT by under a millisecond; a missing key then means "full capacity".
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(reset_after / 1000))
local remaining = math.floor((tolerance - (tat - now)) / interval)
return {1, remaining, 0, reset_after}
