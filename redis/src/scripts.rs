//! The backend's writes, each one Lua script: atomic on the server, and safe on a shared
//! multiplexed connection, where WATCH/MULTI is not (redis-rs #565).
//!
//! Keys (the prefix in braces is the Redis Cluster hash tag): `{prefix}:s:{id}` is a session's hash (fields `user`, `created`, `expires`,
//! `accessed`, `gen`, `rotated`, and `ip`/`ua`/`jkt` when known) expiring with the session;
//! `{prefix}:u:{user}` is a sorted set of the user's session ids scored by creation time;
//! `{prefix}:revoked` is the revocation log, a stream every instance reads;
//! `{prefix}:log-since` is the Unix second since which the log is known complete (0: since
//! it began).

use redis::Script;

/// Writes a session's hash and its index entry. KEYS: session, user index. ARGV: id, user,
/// created, expires, accessed, gen, rotated, ip, ua, jkt (`+value` when known, empty when
/// not).
pub(crate) const CREATE: &str = "
redis.call('HSET', KEYS[1], 'user', ARGV[2], 'created', ARGV[3], 'expires', ARGV[4],
  'accessed', ARGV[5], 'gen', ARGV[6], 'rotated', ARGV[7])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'ip', string.sub(ARGV[8], 2)) end
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'ua', string.sub(ARGV[9], 2)) end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'jkt', string.sub(ARGV[10], 2)) end
-- An expiry already past deletes the row at once: the contract allows dropping it.
redis.call('EXPIREAT', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local expiry = redis.call('EXPIRETIME', KEYS[2])
if expiry < tonumber(ARGV[4]) then redis.call('EXPIREAT', KEYS[2], ARGV[4]) end
";

/// See [`CREATE`].
pub(crate) fn create() -> Script {
    Script::new(&format!("{CREATE}\nreturn 1"))
}

/// Appending to a log that was deleted (its marker remains) records the loss, now. `log` and
/// `marker` are the KEYS indexes of the two.
pub(crate) fn lost_log(log: usize, marker: usize) -> String {
    format!(
        "
if redis.call('EXISTS', KEYS[{log}]) == 0 and redis.call('EXISTS', KEYS[{marker}]) == 1 then
  redis.call('SET', KEYS[{marker}], redis.call('TIME')[1])
end
"
    )
}

/// KEYS: session, revocation log, its marker. ARGV: id, prefix, oldest log id to keep.
pub(crate) fn revoke() -> Script {
    let lost_log = lost_log(2, 3);
    Script::new(&format!(
        r"
local user = redis.call('HGET', KEYS[1], 'user')
if not user then return 0 end
{lost_log}
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[2] .. ':u:' .. user, ARGV[1])
redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[3], '*', 'sid', ARGV[1])
return 1
"
    ))
}

/// KEYS: user index, revocation log, its marker. ARGV: session to keep (empty: none), prefix,
/// oldest log id to keep. Returns the ids ended.
pub(crate) fn revoke_others() -> Script {
    let lost_log = lost_log(2, 3);
    Script::new(&format!(
        r"
{lost_log}
local ended = {{}}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if id ~= ARGV[1] then
    redis.call('ZREM', KEYS[1], id)
    if redis.call('DEL', ARGV[2] .. ':s:' .. id) == 1 then
      redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[3], '*', 'sid', id)
      table.insert(ended, id)
    end
  end
end
return ended
"
    ))
}

/// The follower's check that the log is the one it followed. KEYS: revocation log, its
/// marker. ARGV: the last id the follower saw (`0-0`: none), and the number of entries ever
/// added to the log up to that id as the follower counted them (empty: unknown).
///
/// A missing log is created empty (so that a later deletion can be told from a first use),
/// and the marker set: to 0 on first use, to now if the log was deleted. The log also counts
/// as lost now if its ids went back, if entries were added past the follower's last id and
/// none is left (trimmed or deleted before it read them), or, while the follower is caught
/// up, if more entries were added than it was given. The age trim (`MINID` on every
/// append) never trips these: it only removes entries the follower read long ago, and never
/// the newest. Returns the
/// marker, `max-deleted-entry-id` (entries removed by `XDEL`; trims do not count there),
/// `last-generated-id`, `entries-added`, and 1 when the follower must replay from the start.
pub(crate) fn check_log() -> Script {
    Script::new(
        r"
local function before(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if not am or not bm then return false end
  if tonumber(am) ~= tonumber(bm) then return tonumber(am) < tonumber(bm) end
  return tonumber(as) < tonumber(bs)
end
local now = redis.call('TIME')[1]
local since = redis.call('GET', KEYS[2])
local followed = ARGV[1] ~= '0-0' or ARGV[2] ~= ''
if redis.call('EXISTS', KEYS[1]) == 0 then
  if since or followed then since = now else since = '0' end
  redis.call('SET', KEYS[2], since)
  redis.call('XGROUP', 'CREATE', KEYS[1], 'tjs', '$', 'MKSTREAM')
  redis.call('XGROUP', 'DESTROY', KEYS[1], 'tjs')
  return {since, '0-0', '0-0', 0, 1}
end
if not since then
  since = '0'
  redis.call('SET', KEYS[2], since)
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local field = {}
for i = 1, #info - 1, 2 do field[info[i]] = info[i + 1] end
local generated, added = field['last-generated-id'], field['entries-added']
local reset = 0
if before(generated, ARGV[1]) then reset = 1 end
-- Entries were added past the follower's last id, and none is left to read.
local trimmed = followed and before(ARGV[1], generated)
  and #redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', 1) == 0
local skipped = ARGV[2] ~= '' and generated == ARGV[1] and tonumber(ARGV[2]) ~= added
if reset == 1 or trimmed or skipped then
  since = now
  redis.call('SET', KEYS[2], since)
end
return {since, field['max-deleted-entry-id'], generated, added, reset}
",
    )
}

/// KEYS: session. ARGV: at. `accessed` never moves back; a missing session is no error.
pub(crate) fn touch() -> Script {
    Script::new(
        r"
local accessed = redis.call('HGET', KEYS[1], 'accessed')
if accessed and tonumber(ARGV[1]) > tonumber(accessed) then
  redis.call('HSET', KEYS[1], 'accessed', ARGV[1])
end
return 1
",
    )
}

/// The generation compare-and-swap; `swapped` is 1 when it took place. KEYS: session. ARGV:
/// from, to, at.
pub(crate) const ROTATE: &str = "
local swapped = 0
if redis.call('HGET', KEYS[1], 'gen') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'gen', ARGV[2], 'rotated', ARGV[3])
  swapped = 1
end
";

/// See [`ROTATE`].
pub(crate) fn rotate() -> Script {
    Script::new(&format!("{ROTATE}\nreturn swapped"))
}
