//! Every default of the builders, in one place: what a setting is when you do not set it.

use std::time::Duration;

/// Default access-token lifetime: 15 minutes, as Machinable.
pub const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);

/// Default refresh-token (and session) lifetime: 3 days, as Machinable.
pub const REFRESH_TTL: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// Default clock-skew leeway on `exp` and `nbf`.
pub const LEEWAY: Duration = Duration::from_secs(5);

/// Default refresh route.
pub const REFRESH_PATH: &str = "/sessions/refresh/";

/// The usual JWKS path (RFC 8414 §3 names `jwks_uri`; this is where most issuers put it).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Default `max-age` of the JWKS document: other services refetch it at most this often.
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(300);

/// Default number of sessions kept in the session cache.
pub const CACHE_CAPACITY: u64 = 100_000;

/// Default time a cached session is trusted without asking the backend again.
pub const CACHE_TTL: Duration = Duration::from_secs(30);

/// Default window in which reads of one user's claims are shared by every refresh.
pub const USER_CLAIMS_TTL: Duration = Duration::from_secs(1);

/// Default least time between two `touch` writes of one session.
pub const TOUCH_DEBOUNCE: Duration = Duration::from_secs(60);

/// Default memory budget of the verified-token cache: 32 MiB.
pub const TOKEN_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Default number of revocations remembered at once for access tokens (about 15 MiB). Past
/// it, nothing is forgotten: access tokens are checked against their session instead.
pub const REVOCATION_BUDGET: usize = 100_000;

/// Default limit of backend calls in flight.
pub const MAX_BACKEND_CALLS: usize = 512;

/// Default timeout of one backend call.
pub const BACKEND_TIMEOUT: Duration = Duration::from_secs(2);

/// Default longest wait for one fetch of an issuer's metadata or JWKS document
/// ([`VerifierBuilder::fetch_timeout`](crate::VerifierBuilder::fetch_timeout)).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Default window a DPoP proof's `iat` may be off the server's clock, either way
/// ([`Dpop::proof_lifetime`](crate::Dpop::proof_lifetime)).
pub const DPOP_PROOF_LIFETIME: Duration = Duration::from_secs(60);

/// Default longest time an active introspection answer is trusted without asking the issuer
/// again ([`Introspection::ttl`](crate::verifier::Introspection::ttl)): a token revoked at
/// the issuer is accepted for up to this long.
pub const INTROSPECTION_TTL: Duration = Duration::from_secs(60);

/// Default longest wait for one introspection call
/// ([`Introspection::timeout`](crate::verifier::Introspection::timeout)).
pub const INTROSPECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// Default least time between two fetches of the JWKS document made for unknown `kid`s.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);

/// The cookie's name when it is scoped to the refresh route.
pub const REFRESH_COOKIE: &str = "refresh_token";

/// The cookie's name when it is site-wide ([`RefreshCookie::site_wide`](crate::RefreshCookie::site_wide)): the `__Host-`
/// prefix makes browsers refuse it unless it is `Secure`, has `Path=/` and no `Domain`, so a
/// sibling subdomain cannot plant one.
pub const SITE_WIDE_REFRESH_COOKIE: &str = "__Host-refresh_token";

/// Default bound of an MCP request body read by
/// [`McpLayer`](crate::mcp::McpLayer) (4 MiB, as rmcp's streamable HTTP server has it).
#[cfg(feature = "mcp")]
pub const MCP_BODY_LIMIT: usize = 4 * 1024 * 1024;
