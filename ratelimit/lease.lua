-- Leases a chunk of the current window's budget to one caller on one replica,
-- atomically, so that the fleet is never granted more than the window holds.
-- It also records what the replica reports: per-caller demand, requests
-- Intercom served, and the lowest X-RateLimit-Remaining it saw.
--
-- KEYS[1] this window's hash   KEYS[2] the previous window's hash
-- KEYS[3] this window's workspace counter (all apps)   KEYS[4] the pause key
-- ARGV: 1 caller, 2 want (0: only report), 3 weight, 4 demand this window,
-- 5 demand previous window, 6 app limit, 7 workspace limit (0: none),
-- 8 elapsed fraction of the window, 9 TTL ms, 10 live replicas,
-- 11 served this window, 12 served previous window,
-- 13 min remaining seen this window (-1: none), 14 its window fraction,
-- 15 min remaining seen previous window (-1: none), 16 its window fraction,
-- 17 X-RateLimit-Limit seen (-1: none), 18 safety margin fraction.
--
-- Hash fields: u granted, u:<caller> granted to a caller, d:<caller> demand,
-- w:<caller> weight, s served, r lowest remaining, rf its fraction, ru the
-- value of u when r was recorded, L Intercom's limit.
--
-- Returns {granted, code, pause ms, effective limit, left}; code 0 granted,
-- 1 paused, 2 window spent, 3 caller's share spent.
local cur, prev, wsk, pk = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local caller = ARGV[1]
local want = tonumber(ARGV[2])
local weight = tonumber(ARGV[3])
local limit = tonumber(ARGV[6])
local wslimit = tonumber(ARGV[7])
local frac = tonumber(ARGV[8])
local ttl = tonumber(ARGV[9])
local live = math.max(1, tonumber(ARGV[10]))
local margin = tonumber(ARGV[18])

local function num(k, f)
  return tonumber(redis.call('HGET', k, f))
end

-- Reports first: even a paused or spent window learns from them.
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', cur, 'd:' .. caller, ARGV[4]) end
if tonumber(ARGV[5]) > 0 then redis.call('HINCRBY', prev, 'd:' .. caller, ARGV[5]) end
if tonumber(ARGV[11]) > 0 then redis.call('HINCRBY', cur, 's', ARGV[11]) end
if tonumber(ARGV[12]) > 0 then redis.call('HINCRBY', prev, 's', ARGV[12]) end
local function lowest(k, r, rf)
  if r < 0 then return end
  local old = num(k, 'r')
  if not old or r < old then
    redis.call('HSET', k, 'r', r, 'rf', rf, 'ru', num(k, 'u') or 0)
  end
end
lowest(cur, tonumber(ARGV[13]), ARGV[14])
lowest(prev, tonumber(ARGV[15]), ARGV[16])
local seenLimit = tonumber(ARGV[17])
if seenLimit > 0 then
  local old = num(cur, 'L')
  if not old or seenLimit < old then redis.call('HSET', cur, 'L', seenLimit) end
end
redis.call('PEXPIRE', cur, ttl)
if redis.call('EXISTS', prev) == 1 then redis.call('PEXPIRE', prev, ttl) end
if want <= 0 then return {0, 0, 0, limit, 0} end
redis.call('HSET', cur, 'w:' .. caller, weight)

local pause = redis.call('PTTL', pk)
if pause > 0 then return {0, 1, pause, limit, 0} end

-- Intercom's own limit wins when it is smaller than the configured one.
local L = num(cur, 'L') or num(prev, 'L')
if L and L < limit then limit = L end
-- Other apps spend the same budget. In the previous window Intercom had
-- counted L - r requests when it answered our last request; we had been
-- served s of them, so others had spent the rest by fraction rf of the
-- window: extrapolate to the whole window, and keep a margin.
local pr, prf = num(prev, 'r'), num(prev, 'rf')
if pr and prf then
  local pL = num(prev, 'L') or limit
  local others = (pL - pr) - (num(prev, 's') or 0)
  if others > 0 then
    others = math.min(pL, others / math.max(prf, 0.05))
    limit = math.floor(limit - others - margin * pL)
  end
end
if limit < 0 then limit = 0 end

local u = num(cur, 'u') or 0
local left = limit - u
-- In this window, Intercom said r remained when we had been granted ru.
local r = num(cur, 'r')
if r then left = math.min(left, r - (u - (num(cur, 'ru') or 0))) end
if wslimit > 0 then
  left = math.min(left, wslimit - (tonumber(redis.call('GET', wsk)) or 0))
end
if left <= 0 then return {0, 2, 0, limit, 0} end

-- Weighted max-min fair share of the limit between the callers with
-- demand. Demand is a sliding-window estimate: this window's plus the part
-- of the previous window that the sliding window still covers.
local D, W, ids = {}, {}, {}
local function scan(k, f)
  local h = redis.call('HGETALL', k)
  for i = 1, #h, 2 do
    local p = string.sub(h[i], 1, 2)
    local id = string.sub(h[i], 3)
    if p == 'd:' then
      if not D[id] then D[id] = 0; ids[#ids + 1] = id end
      D[id] = D[id] + tonumber(h[i + 1]) * f
    elseif p == 'w:' and not W[id] then
      W[id] = tonumber(h[i + 1])
    end
  end
end
scan(cur, 1)
scan(prev, 1 - frac)
-- Demand estimates lag: a caller is held to a little more than its
-- estimate, so that one under its share is not refused when its rate
-- wobbles.
for _, id in ipairs(ids) do D[id] = D[id] * 1.1 + 2 end
local share = {}
local open, rem = {}, limit
for _, id in ipairs(ids) do open[id] = true end
while true do
  local tw = 0
  for _, id in ipairs(ids) do if open[id] then tw = tw + (W[id] or 1) end end
  if tw == 0 then break end
  local done = {}
  for _, id in ipairs(ids) do
    if open[id] and D[id] <= rem * (W[id] or 1) / tw then done[#done + 1] = id end
  end
  if #done == 0 then
    for _, id in ipairs(ids) do if open[id] then share[id] = rem * (W[id] or 1) / tw end end
    rem = 0
    break
  end
  for _, id in ipairs(done) do share[id] = D[id]; rem = rem - D[id]; open[id] = nil end
end
if rem > 0 then
  -- Everyone's demand fits: what is left is shared by weight, so a caller
  -- whose demand grows is not held to its old estimate.
  local tw = 0
  for _, id in ipairs(ids) do tw = tw + (W[id] or 1) end
  for _, id in ipairs(ids) do share[id] = (share[id] or 0) + rem * (W[id] or 1) / tw end
end
local mine = share[caller] or limit
local cleft = math.floor(mine + 0.5) - (num(cur, 'u:' .. caller) or 0)
if cleft <= 0 then return {0, 3, 0, limit, left} end

-- A chunk: what the replica wants, within what is left for the caller and
-- the fleet; at most half of what is left of the caller's share, because
-- the demand estimates move, and at most an even split of what is left
-- between the live replicas, so the end of a window is not held by one.
local g = math.min(want, left, cleft, math.ceil(cleft / 2), math.max(1, math.ceil(left / live)))
redis.call('HINCRBY', cur, 'u', g)
redis.call('HINCRBY', cur, 'u:' .. caller, g)
if wslimit > 0 then
  redis.call('INCRBY', wsk, g)
  redis.call('PEXPIRE', wsk, ttl)
end
return {g, 0, 0, limit, left - g}
