//! The bounds the crate enforces on settings and on what clients send.

use std::time::Duration;

/// The largest leeway accepted: more would keep expired tokens alive for long.
pub const MAX_LEEWAY: Duration = Duration::from_secs(5 * 60);

/// The longest access or refresh lifetime accepted: 100 years keeps every date a token
/// carries far inside what any clock arithmetic handles.
pub const MAX_LIFETIME: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// The longest `ip` or `user_agent` kept with a session, in bytes; longer ones are cut (at a
/// character boundary). A client chooses these strings: without a bound, a 400 KiB
/// `User-Agent` per login would be kept, cached and listed.
pub const MAX_META_LEN: usize = 512;

/// The most sessions [`Sessions::list`](crate::Sessions::list) answers, the newest.
pub const MAX_LISTED_SESSIONS: usize = 100;

/// HMAC secrets shorter than this are refused: RFC 7518 §3.2 asks for a key at least as long
/// as the hash output (32 bytes for HS256).
pub const MIN_HMAC_SECRET_LEN: usize = 32;
