//! The store's writes, each one Lua script: atomic on the server, and safe on a shared
//! multiplexed connection, where WATCH/MULTI is not (redis-rs #565).
//!
//! Keys (the prefix in braces is the Redis Cluster hash tag): `{prefix}:s:{id}` is a session's hash (fields `user`, `created`, `expires`,
//! `accessed`, `gen`, `rotated`, and `ip`/`ua` when known) expiring with the session;
//! `{prefix}:u:{user}` is a sorted set of the user's session ids scored by creation time;
//! `{prefix}:revoked` is the revocation log, a stream every instance reads.

use redis::Script;

/// KEYS: session, user index. ARGV: id, user, created, expires, accessed, gen, rotated,
/// ip, ua (`+value` when known, empty when not).
pub(crate) fn create() -> Script {
    Script::new(
        r"
redis.call('HSET', KEYS[1], 'user', ARGV[2], 'created', ARGV[3], 'expires', ARGV[4],
  'accessed', ARGV[5], 'gen', ARGV[6], 'rotated', ARGV[7])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'ip', string.sub(ARGV[8], 2)) end
if ARGV[9] ~= '' then redis.call('HSET', KEYS[1], 'ua', string.sub(ARGV[9], 2)) end
-- An expiry already past deletes the row at once: the contract allows dropping it.
redis.call('EXPIREAT', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local expiry = redis.call('EXPIRETIME', KEYS[2])
if expiry < tonumber(ARGV[4]) then redis.call('EXPIREAT', KEYS[2], ARGV[4]) end
return 1
",
    )
}

/// KEYS: session, revocation log. ARGV: id, prefix, oldest log id to keep.
pub(crate) fn revoke() -> Script {
    Script::new(
        r"
local user = redis.call('HGET', KEYS[1], 'user')
if not user then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', ARGV[2] .. ':u:' .. user, ARGV[1])
redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[3], '*', 'sid', ARGV[1])
return 1
",
    )
}

/// KEYS: user index, revocation log. ARGV: session to keep (empty: none), prefix, oldest log
/// id to keep. Returns the ids ended.
pub(crate) fn revoke_others() -> Script {
    Script::new(
        r"
local ended = {}
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

/// KEYS: session. ARGV: from, to, at. The generation compare-and-swap.
pub(crate) fn rotate() -> Script {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'gen', ARGV[2], 'rotated', ARGV[3])
return 1
",
    )
}
