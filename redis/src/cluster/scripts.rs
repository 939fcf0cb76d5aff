//! The cluster's writes. Each script declares every key it touches, all of one shard (one
//! slot), so that a slot being migrated answers `ASK` or `TRYAGAIN` rather than a half
//! operation. Each returns, with its answer, how many replicas the primary has: the backend
//! then waits (`WAIT 1`) for one of them to hold the write, so that a failover does not lose
//! an acknowledged login, rotation or revocation.
//!
//! Keys of shard `t` (see [`Shards`](super::shards::Shards)): `{prefix}:{t}:s:{id}` a
//! session's hash, `{prefix}:{t}:u:{user}` the user's index, `{prefix}:{t}:revoked` the
//! shard's revocation log, `{prefix}:{t}:log-since` since when that log is known complete.

use redis::Script;

use crate::scripts::{CREATE, ROTATE, lost_log};

/// The primary's connected replicas, from `INFO replication`.
const REPLICAS: &str = "
local replicas = tonumber(string.match(redis.call('INFO', 'replication'),
  'connected_slaves:(%d+)')) or 0
";

/// [`CREATE`]; returns the replicas.
pub(crate) fn create() -> Script {
    Script::new(&format!("{CREATE}\n{REPLICAS}\nreturn replicas"))
}

/// [`ROTATE`]; returns `{swapped, replicas}`.
pub(crate) fn rotate() -> Script {
    Script::new(&format!(
        "{ROTATE}\n{REPLICAS}\nreturn {{swapped, replicas}}"
    ))
}

/// KEYS: session, its user's index, revocation log, marker. ARGV: id, user (read before:
/// a session's user never changes), oldest log id to keep. Returns `{revoked, replicas}`.
pub(crate) fn revoke() -> Script {
    let lost_log = lost_log(3, 4);
    Script::new(&format!(
        r"
{REPLICAS}
if redis.call('HGET', KEYS[1], 'user') ~= ARGV[2] then return {{0, replicas}} end
{lost_log}
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('XADD', KEYS[3], 'MINID', '~', ARGV[3], '*', 'sid', ARGV[1])
return {{1, replicas}}
"
    ))
}

/// KEYS: user index, revocation log, marker, then the session of each listed id. ARGV:
/// session to keep (empty: none), oldest log id to keep, then the ids the index held when
/// read. Returns `{replicas, ended ids}`, or `{-1, {}}` when the index changed since it was
/// read (the caller reads it again).
pub(crate) fn revoke_others() -> Script {
    let lost_log = lost_log(2, 3);
    Script::new(&format!(
        r"
local listed = redis.call('ZRANGE', KEYS[1], 0, -1)
if #listed ~= #ARGV - 2 then return {{-1, {{}}}} end
local given = {{}}
for i = 3, #ARGV do given[ARGV[i]] = true end
for _, id in ipairs(listed) do
  if not given[id] then return {{-1, {{}}}} end
end
{REPLICAS}
{lost_log}
local ended = {{}}
for i = 3, #ARGV do
  local id = ARGV[i]
  if id ~= ARGV[1] then
    redis.call('ZREM', KEYS[1], id)
    if redis.call('DEL', KEYS[i + 1]) == 1 then
      redis.call('XADD', KEYS[2], 'MINID', '~', ARGV[2], '*', 'sid', id)
      table.insert(ended, id)
    end
  end
end
return {{replicas, ended}}
"
    ))
}
