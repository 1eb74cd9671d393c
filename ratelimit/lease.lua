-- Leases a chunk of the current window's budget to one caller on one replica,
-- atomically, so that the fleet is never granted more than the window holds.
-- The same call is the replica's heartbeat: it records the replica as live
-- in this workspace and what the replica reports (per-caller demand, requests
-- Intercom served, the lowest X-RateLimit-Remaining it saw, requests Intercom
-- counted in a later window than the one they were granted in). With want 0
-- it only reports.
--
-- KEYS[1] this window's hash   KEYS[2] the previous window's hash
-- KEYS[3] this window's workspace counter (all apps)   KEYS[4] the pause key
-- KEYS[5] the workspace's live replicas (sorted set, score: last heard, ms)
-- ARGV: 1 caller, 2 want (0: only report), 3 weight, 4 demand this window,
-- 5 demand previous window, 6 app limit, 7 workspace limit (0: none),
-- 8 elapsed fraction of the window, 9 TTL ms, 10 replica id, 11 now ms,
-- 12 presence ms (a replica not heard of for this long is not live),
-- 13 served this window, 14 served previous window,
-- 15 min remaining seen this window (-1: none), 16 its window fraction,
-- 17 min remaining seen previous window (-1: none), 18 its window fraction,
-- 19 X-RateLimit-Limit seen (-1: none), 20 safety margin fraction,
-- 21 pacing head (fraction of a share granted ahead of an even pace),
-- 22 charge: requests sent in this window that the count here does not
-- know of (Intercom counted them in this window, but they were granted in
-- an earlier one; or a replica sent them on its own while Redis was away),
-- 23 window length ms.
--
-- Hash fields: u granted, u:<caller> granted to a caller, d:<caller> demand,
-- w:<caller> weight, s served, r lowest remaining, rf its fraction, ru the
-- leased grants when r was recorded (at least as many as Intercom had
-- counted of ours), c charges (u counts them too), L Intercom's limit.
--
-- Returns {granted, code, wait ms, effective limit, left, live replicas,
-- the window's leased grants};
-- code 0 granted, 1 paused (wait = until the reset), 2 window spent,
-- 3 caller's share spent, 4 paced (wait = until the caller's share has
-- grown by one).
local cur, prev, wsk, pk, rk = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local caller = ARGV[1]
local want = tonumber(ARGV[2])
local weight = tonumber(ARGV[3])
local limit = tonumber(ARGV[6])
local wslimit = tonumber(ARGV[7])
local frac = tonumber(ARGV[8])
local ttl = tonumber(ARGV[9])
local nowms = tonumber(ARGV[11])
local presence = tonumber(ARGV[12])
local margin = tonumber(ARGV[20])
local head = tonumber(ARGV[21])
local charge = tonumber(ARGV[22])
local windowMs = tonumber(ARGV[23])

local function num(k, f)
  return tonumber(redis.call('HGET', k, f))
end

-- Presence: every lease or report says the replica is live.
redis.call('ZADD', rk, nowms, ARGV[10])
redis.call('ZREMRANGEBYSCORE', rk, '-inf', nowms - presence)
redis.call('PEXPIRE', rk, 2 * presence)
local live = math.max(1, redis.call('ZCARD', rk))

-- Reports first: even a paused or spent window learns from them.
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBY', cur, 'd:' .. caller, ARGV[4]) end
if tonumber(ARGV[5]) > 0 then redis.call('HINCRBY', prev, 'd:' .. caller, ARGV[5]) end
if tonumber(ARGV[13]) > 0 then redis.call('HINCRBY', cur, 's', ARGV[13]) end
if tonumber(ARGV[14]) > 0 then redis.call('HINCRBY', prev, 's', ARGV[14]) end
if charge > 0 then
  redis.call('HINCRBY', cur, 'u', charge)
  redis.call('HINCRBY', cur, 'c', charge)
  if wslimit > 0 then redis.call('INCRBY', wsk, charge); redis.call('PEXPIRE', wsk, ttl) end
end
local function lowest(k, r, rf)
  if r < 0 then return end
  local old = num(k, 'r')
  if not old or r < old then
    redis.call('HSET', k, 'r', r, 'rf', rf, 'ru', (num(k, 'u') or 0) - (num(k, 'c') or 0))
  end
end
lowest(cur, tonumber(ARGV[15]), ARGV[16])
lowest(prev, tonumber(ARGV[17]), ARGV[18])
local seenLimit = tonumber(ARGV[19])
if seenLimit > 0 then
  local old = num(cur, 'L')
  if not old or seenLimit < old then redis.call('HSET', cur, 'L', seenLimit) end
end
redis.call('PEXPIRE', cur, ttl)
if redis.call('EXISTS', prev) == 1 then redis.call('PEXPIRE', prev, ttl) end
if want <= 0 then return {0, 0, 0, limit, 0, live, 0} end
redis.call('HSET', cur, 'w:' .. caller, weight)

local pause = redis.call('PTTL', pk)
if pause > 0 then return {0, 1, pause, limit, 0, live, 0} end

-- Intercom's own limit wins when it is smaller than the configured one.
local L = num(cur, 'L') or num(prev, 'L')
if L and L < limit then limit = L end
local ilimit = limit
-- Other apps spend the same budget. In the previous window Intercom had
-- counted L - r requests when it answered our last request (at fraction
-- rf); we had been served s in the whole window, nearly all of them by
-- then because grants are paced up to the window's end: the rest is the
-- others' spend by rf. Extrapolate it to the whole window and keep a
-- margin for its variation.
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
local leased = u - (num(cur, 'c') or 0)
local left = limit - u
-- In this window, Intercom said r remained when we had been granted no
-- more than ru: what was granted since comes out of r. Others seen
-- spending in it (more counted than we had been granted) are expected to
-- go on at the same rate until its end, and the same margin is kept.
local r = num(cur, 'r')
if r then
  local ru, rf = num(cur, 'ru') or 0, num(cur, 'rf') or 1
  local cap = r - (leased - ru)
  local seen = (ilimit - r) - ru - (num(cur, 'c') or 0)
  if seen > margin * ilimit then
    cap = cap - math.floor(seen * (1 - rf) / math.max(rf, 0.05) + margin * ilimit)
  end
  left = math.min(left, cap)
end
if wslimit > 0 then
  left = math.min(left, wslimit - (tonumber(redis.call('GET', wsk)) or 0))
end
if left <= 0 then return {0, 2, 0, limit, 0, live, leased} end

-- Weighted max-min fair share of the limit between the callers with
-- demand. Demand is a sliding-window estimate: this window's plus the part
-- of the previous window that the sliding window still covers. A caller
-- without demand in the previous window has no history yet: until it has,
-- it is held to nothing less than its weighted share (its demand counts as
-- unbounded), so a caller that just arrived is not starved by one whose
-- leases came first.
local D, W, ids, known = {}, {}, {}, {}
local function scan(k, f, isPrev)
  local h = redis.call('HGETALL', k)
  for i = 1, #h, 2 do
    local p = string.sub(h[i], 1, 2)
    local id = string.sub(h[i], 3)
    if p == 'd:' then
      if not D[id] then D[id] = 0; ids[#ids + 1] = id end
      D[id] = D[id] + tonumber(h[i + 1]) * f
      if isPrev then known[id] = true end
    elseif p == 'w:' and not W[id] then
      W[id] = tonumber(h[i + 1])
    end
  end
end
scan(cur, 1, false)
scan(prev, 1 - frac, true)
-- Demand estimates lag: a caller is held to a little more than its
-- estimate, so that one under its share is not refused when its rate
-- wobbles.
for _, id in ipairs(ids) do
  if known[id] then D[id] = D[id] * 1.1 + 2 else D[id] = math.huge end
end
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
local ucaller = num(cur, 'u:' .. caller) or 0
if math.floor(mine + 0.5) - ucaller <= 0 then return {0, 3, 0, limit, left, live, leased} end

-- Pacing: a caller's grants follow its share through the window, at most
-- head ahead of an even pace. Grants spread over the window, so do the
-- answers whose Remaining the replicas report (others' spend is then read
-- late in a window, not extrapolated from its first moments), and a caller
-- that arrives mid-window finds its share still there.
local paced = math.floor(mine * math.min(1, frac + head)) - ucaller
if paced <= 0 then
  local at = (ucaller + 1) / mine - head
  return {0, 4, math.max(1, math.ceil((at - frac) * windowMs)), limit, left, live, leased}
end

-- A chunk: what the replica wants, within what is paced for the caller and
-- left for the fleet, and at most an even split of what is left between the
-- live replicas, so the end of a window is not held by one.
local g = math.min(want, left, paced, math.max(1, math.ceil(left / live)))
redis.call('HINCRBY', cur, 'u', g)
redis.call('HINCRBY', cur, 'u:' .. caller, g)
if wslimit > 0 then
  redis.call('INCRBY', wsk, g)
  redis.call('PEXPIRE', wsk, ttl)
end
return {g, 0, 0, limit, left - g, live, leased + g}
