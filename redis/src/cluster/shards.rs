//! Where a key lives on a cluster. An app's keys are split into shards, each a hash tag of
//! its own: a user's sessions, their index and the shard's revocation log share one tag, so
//! every script stays in one slot, and the tags sit on evenly spaced slots, so that shards
//! spread over every primary of an evenly sliced cluster. A session id starts with its
//! shard's tag (`{tag}.{random}`): [`load`](crate::RedisClusterBackend) finds the slot from the
//! id alone.

use std::collections::HashMap;

/// The number of slots of a Redis Cluster.
const SLOTS: u16 = 16384;

/// One shard: its hash tag and the slot that tag hashes to.
#[derive(Debug)]
pub(crate) struct Shard {
    pub(crate) tag: String,
    pub(crate) slot: u16,
}

/// The shards of one app (key prefix), the same on every instance given the same count.
#[derive(Debug)]
pub(crate) struct Shards {
    key_prefix: String,
    shards: Vec<Shard>,
    by_tag: HashMap<String, usize>,
}

/// The Redis Cluster slot of a hash tag (CRC16/XMODEM, as the server computes it).
pub(crate) fn slot(tag: &str) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(tag.as_bytes()) % SLOTS
}

impl Shards {
    /// `count` shards (1 to 1024: each range at least 16 slots wide) under `key_prefix`: shard
    /// `i` gets the first short tag whose slot falls in the middle half of the `i`-th of
    /// `count` equal slot ranges.
    pub(crate) fn new(key_prefix: &str, count: u16) -> Shards {
        let count = count.clamp(1, 1024);
        let width = u32::from(SLOTS) / u32::from(count);
        let shards: Vec<Shard> = (0..u32::from(count))
            .map(|i| {
                let (low, high) = (i * width + width / 4, i * width + width * 3 / 4);
                // Within the first few thousand candidates for any count up to 1024; the
                // bound only keeps the loop finite.
                (0u32..1 << 20)
                    .map(base36)
                    .map(|tag| {
                        let slot = slot(&tag);
                        Shard { tag, slot }
                    })
                    .find(|shard| (low..high).contains(&u32::from(shard.slot)))
                    .unwrap_or_else(|| Shard {
                        tag: format!("s{i}"),
                        slot: slot(&format!("s{i}")),
                    })
            })
            .collect();
        let by_tag = shards
            .iter()
            .enumerate()
            .map(|(i, shard)| (shard.tag.clone(), i))
            .collect();
        Shards {
            key_prefix: key_prefix.to_owned(),
            shards,
            by_tag,
        }
    }

    pub(crate) fn all(&self) -> &[Shard] {
        &self.shards
    }

    /// The user's shard: FNV-1a of the user id, modulo the count. It must never change: a
    /// user's sessions and their index have to agree on the shard for as long as they live.
    /// (CRC16, the slot hash, spreads sequential ids such as `user1`, `user2`, ... unevenly
    /// over its low bits: 45 to 95 of 1 000 per shard, against 57 to 67 here.)
    pub(crate) fn of_user(&self, user_id: &str) -> &Shard {
        let count = u64::try_from(self.shards.len()).unwrap_or(1);
        let index = usize::try_from(fnv1a(user_id.as_bytes()) % count).unwrap_or(0);
        &self.shards[index]
    }

    /// The session's shard, from the tag its id starts with; `None` for an id no instance
    /// with this many shards made.
    pub(crate) fn of_session(&self, id: &str) -> Option<&Shard> {
        let (tag, _) = id.split_once('.')?;
        self.by_tag.get(tag).map(|&i| &self.shards[i])
    }

    /// `{prefix}:{tag}:{kind}:{name}`; the braces make the tag the key's hash tag.
    pub(crate) fn key(&self, shard: &Shard, kind: &str, name: &str) -> String {
        format!("{}:{{{}}}:{kind}:{name}", self.key_prefix, shard.tag)
    }

    pub(crate) fn session_key(&self, shard: &Shard, id: &str) -> String {
        self.key(shard, "s", id)
    }

    pub(crate) fn user_key(&self, shard: &Shard, user_id: &str) -> String {
        self.key(shard, "u", user_id)
    }

    /// The shard's revocation log.
    pub(crate) fn log_key(&self, shard: &Shard) -> String {
        format!("{}:{{{}}}:revoked", self.key_prefix, shard.tag)
    }

    /// Since when the shard's log is known complete (see `scripts::check_log`).
    pub(crate) fn marker_key(&self, shard: &Shard) -> String {
        format!("{}:{{{}}}:log-since", self.key_prefix, shard.tag)
    }

    /// A DPoP proof's record: tagged by the proof id itself, so records spread over every
    /// slot.
    pub(crate) fn proof_key(&self, id: &str) -> String {
        format!("{}:p:{{{id}}}", self.key_prefix)
    }
}

/// FNV-1a, 64 bits: a fixed definition, the same in every build and version.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `n` in base 36, lowercase: the shortest tags.
fn base36(mut n: u32) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(char::from_digit(n % 36, 36).unwrap_or('0'));
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_is_the_servers() {
        // Values from the Redis Cluster specification's examples and `CLUSTER KEYSLOT`.
        assert_eq!(slot("123456789"), 0x31C3 % SLOTS);
        assert_eq!(slot("foo"), 12182);
        assert_eq!(slot("somekey"), 11058);
    }

    #[test]
    fn shards_sit_on_evenly_spaced_slots() {
        for count in [1u16, 3, 16, 64, 1024] {
            let shards = Shards::new("tjs", count);
            assert_eq!(shards.all().len(), usize::from(count));
            let width = SLOTS / count;
            for (i, shard) in shards.all().iter().enumerate() {
                let i = u16::try_from(i).unwrap();
                assert_eq!(shard.slot, slot(&shard.tag));
                assert!(
                    (i * width..(i + 1) * width).contains(&shard.slot),
                    "{count} shards: shard {i} on slot {}",
                    shard.slot
                );
                assert!(shard.tag.bytes().all(|b| b.is_ascii_alphanumeric()));
            }
        }
    }

    #[test]
    fn a_session_id_names_its_shard() {
        let shards = Shards::new("tjs", 16);
        let shard = shards.of_user("alice");
        let id = format!("{}.{}", shard.tag, "0".repeat(32));
        assert_eq!(shards.of_session(&id).unwrap().tag, shard.tag);
        assert!(shards.of_session(&"0".repeat(32)).is_none());
        assert!(shards.of_session("zzzz.0").is_none());
        let key = shards.session_key(shard, &id);
        assert!(key.starts_with(&format!("tjs:{{{}}}:s:", shard.tag)));
    }

    #[test]
    fn users_spread_evenly_over_every_shard() {
        // FNV-1a's published test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let shards = Shards::new("tjs", 16);
        let mut counts = HashMap::new();
        for n in 1..=1000 {
            *counts
                .entry(&shards.of_user(&format!("user{n}")).tag)
                .or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 16);
        // 62.5 each on average.
        assert!(
            counts.values().all(|&c| (50..=75).contains(&c)),
            "{counts:?}"
        );
    }
}
