-- Returns grants a replica leased but will not use, so other replicas and
-- callers can have them in the same window.
-- KEYS[1] the window's hash, KEYS[2] the window's workspace counter.
-- ARGV[1] caller, ARGV[2] count, ARGV[3] 1 when a workspace limit applies.
local n = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local u = tonumber(redis.call('HGET', KEYS[1], 'u:' .. ARGV[1])) or 0
n = math.min(n, u)
if n <= 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'u', -n)
redis.call('HINCRBY', KEYS[1], 'u:' .. ARGV[1], -n)
if ARGV[3] == '1' then redis.call('DECRBY', KEYS[2], n) end
return n
