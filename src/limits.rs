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

/// The largest body the refresh route reads for its standard form (`grant_type=refresh_token`,
/// RFC 6749 §6), in bytes: room for the longest refresh token accepted and the other
/// parameters. Past it the request is refused with 400 `invalid_request` without reading more.
pub const MAX_FORM_LEN: usize = 10 * 1024;
