//! JWT sessions for any tower server (axum, tonic, warp, hyper) in one [`Layer`](tower_layer::Layer).
//!
//! - Protected requests carry `Authorization: Bearer <access token>`; the layer verifies it
//!   (algorithm fixed by you, `exp`/`nbf`/`iss`/`aud`, explicit `typ`) and puts the typed
//!   [`Claims`] into the request extensions.
//! - `POST /sessions/refresh/` is answered by the layer: a refresh token in, `{"access_token"}`
//!   out, after checking its session through a moka cache in front of your [`SessionBackend`].
//!   It takes the refresh token as a Bearer header (Machinable's form) or, as any OAuth
//!   client sends it, as the RFC 6749 §6 form `grant_type=refresh_token&refresh_token=..`
//!   (its body read up to [`limits::MAX_FORM_LEN`]), answered as a token endpoint answers:
//!   RFC 6749 §5.2 errors with 400 (`invalid_grant`, `invalid_request`,
//!   `unsupported_grant_type`; RFC 9449's `invalid_dpop_proof` and `use_dpop_nonce`). With an
//!   issuer URL and published keys, the RFC 8414 metadata names the route as its
//!   `token_endpoint`, so that oauth4webapi, openid-client or AppAuth refresh by discovery.
//! - Your login handler calls [`Sessions::create`]; [`Sessions::revoke`] ends a session at once.
//! - Every refusal is an RFC 6750 response (401 + `WWW-Authenticate`, 400, 403, 503); no token
//!   or secret ever reaches `Debug` output or logs.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//! use tower_jwt_sessions::{
//!     Claims, Keys, MachinableClaims, MachinableUser, MemoryBackend, SessionMeta, Sessions,
//! };
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let memory = MemoryBackend::<MachinableClaims>::new();
//! let keys = Keys::hs256(b"a secret of at least thirty-two bytes!")?;
//! let sessions = Sessions::builder(keys, memory.clone(), memory).build()?;
//! let app = ServiceBuilder::new().layer(sessions.layer()).service(service_fn(
//!     |req: Request<String>| async move {
//!         let claims = req.extensions().get::<Claims<MachinableClaims>>().unwrap();
//!         Ok::<_, std::convert::Infallible>(Response::new(claims.user.name.clone()))
//!     },
//! ));
//!
//! let user = MachinableUser { id: "u1".into(), name: "testUser".into(), active: true,
//!                             read: true, write: true, kind: "project".into() };
//! let issued = sessions.create("u1", &MachinableClaims::new("pet-demo", user), SessionMeta::default()).await?;
//!
//! let req = Request::get("/me")
//!     .header("authorization", format!("Bearer {}", issued.access_token))
//!     .body(String::new())?;
//! assert_eq!(app.clone().oneshot(req).await?.status(), StatusCode::OK);
//!
//! let anonymous = Request::get("/me").body(String::new())?;
//! assert_eq!(app.oneshot(anonymous).await?.status(), StatusCode::UNAUTHORIZED);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Configuration
//!
//! Every knob is a method of [`SessionsBuilder`], whose docs list them all with their
//! defaults (the [`defaults`] module) and bounds (the [`limits`] module).
//!
//! # Your own backend and user directory
//!
//! Session rows and users are two separate doors: a [`SessionBackend`] keeps sessions (it
//! knows nothing of users), a [`Users`] directory gives a user's *current* claims at every
//! refresh. [`MemoryBackend`] is both; anything else plugs in as the `backend` or `users` of
//! [`Sessions::builder`]. Backend authors
//! need only the contract crate, `tower-jwt-sessions-core`, whose `suite` (feature
//! `test-suite`) checks a backend in one line.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//! use tower_jwt_sessions::{
//!     BackendError, Keys, MachinableClaims, MachinableUser, Session, SessionMeta, SessionBackend,
//!     Sessions, Users,
//! };
//!
//! /// Session rows only.
//! #[derive(Default)]
//! struct Rows(Mutex<HashMap<String, Session>>);
//!
//! impl SessionBackend for Rows {
//!     async fn create(&self, session: Session) -> Result<(), BackendError> {
//!         self.0.lock().unwrap().insert(session.id.clone(), session);
//!         Ok(())
//!     }
//!     async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
//!         Ok(self.0.lock().unwrap().get(id).cloned())
//!     }
//!     async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
//!         Ok(self.0.lock().unwrap().remove(id).is_some())
//!     }
//!     async fn list(&self, user_id: &str, limit: usize) -> Result<Vec<Session>, BackendError> {
//!         let rows = self.0.lock().unwrap();
//!         let mut mine: Vec<Session> =
//!             rows.values().filter(|s| s.user_id == user_id).cloned().collect();
//!         mine.sort_by_key(|s| std::cmp::Reverse(s.created_at));
//!         mine.truncate(limit);
//!         Ok(mine)
//!     }
//!     async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
//!         if let Some(s) = self.0.lock().unwrap().get_mut(id) {
//!             s.last_accessed = s.last_accessed.max(at);
//!         }
//!         Ok(())
//!     }
//! }
//!
//! /// User claims only: the app's own user table.
//! struct Directory(HashMap<String, MachinableClaims>);
//!
//! impl Users for Directory {
//!     type Claims = MachinableClaims;
//!     async fn claims(&self, user_id: &str) -> Result<Option<MachinableClaims>, BackendError> {
//!         Ok(self.0.get(user_id).cloned())
//!     }
//! }
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let user = MachinableClaims::new("pet-demo", MachinableUser { id: "u1".into(),
//!     name: "testUser".into(), active: true, read: true, write: true, kind: "project".into() });
//! let keys = Keys::hs256(b"a secret of at least thirty-two bytes!")?;
//! let users = Directory(HashMap::from([("u1".to_owned(), user.clone())]));
//! let sessions = Sessions::builder(keys, Rows::default(), users).build()?;
//! let issued = sessions.create("u1", &user, SessionMeta::default()).await?;
//! assert_eq!(sessions.list("u1").await?.len(), 1);
//! assert!(sessions.revoke(&issued.session_id).await?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! A backend failure (`Err(BackendError)`) is a server fault: 503 with `Retry-After`, never a
//! 401, and the client keeps its tokens. "Not there" (`Ok(None)`, `Ok(false)`) ends the
//! session with a 401. Refresh-token rotation
//! ([`rotate_refresh_tokens`](SessionsBuilder::rotate_refresh_tokens)) is offered for backends
//! that also implement [`RotatingBackend`], a compare-and-swap of the session's generation.
//!
//! # Security model
//!
//! - **Algorithms are fixed by the keys**, never by the token's `alg` (RFC 8725 §3.1). `none`
//!   does not exist in the accepted set; an HMAC secret is only built by [`Keys::hmac`],
//!   public keys only by the RSA/EC/Ed constructors, so the RS256→HS256 key-confusion attack
//!   has no way in.
//! - **Access and refresh tokens are mutually exclusive** (RFC 8725 §3.12): access tokens
//!   carry `typ: at+jwt` (RFC 9068) and `token_use: "access"`, refresh tokens
//!   `typ: refresh+jwt` and `token_use: "refresh"`. Both are checked, so even a token
//!   re-signed with the other `typ` fails on its claims.
//! - **Only compact JWS**: exactly three non-empty base64url segments, at most 8 KiB;
//!   anything else is refused before decoding. A `crit` header is refused (we understand no
//!   extension); `jku`, `x5u`, `jwk` and `kid` are never fetched or used to pick a key.
//! - **`exp` is required, `nbf` is honoured**, both with a 5-second leeway by default
//!   (jsonwebtoken defaults to 60 s and ignores `nbf`; we set both deliberately), at most
//!   [`limits::MAX_LEEWAY`]. `iss` and `aud` are required when configured.
//! - **Sessions**: the refresh token names its session (`sid`), user (`sub`) and generation
//!   (`gen`); all three must match the stored row. Revoking through the crate removes the
//!   cached row at once and leaves a marker that stops a load already in flight from
//!   bringing it back. A deactivated or deleted user ends the session at the next refresh.
//! - **Revocation stops access tokens too**, not only refresh tokens: access tokens carry
//!   `sid`, and every protected request checks it against the sessions this process revoked
//!   (remembered for the access-token lifetime plus the largest leeway). A flood of
//!   revocations past the set's budget never makes it forget one: it then checks the
//!   sessions themselves (see the memory table below).
//! - **Refresh-token rotation** (opt-in, RFC 9700 §4.14.2): each session has a generation,
//!   swapped by a compare-and-swap in the backend at every refresh. A retired token presented
//!   again is treated as stolen and ends the whole session, unless it was retired less than
//!   `grace` ago, when the second tab gets the current tokens without a second swap. Racing
//!   refreshes rotate exactly once; an instance whose cache is behind reads the backend before
//!   deciding.
//! - **Errors never leak**: descriptions are fixed strings; `Debug` of [`Keys`], [`Claims`],
//!   [`IssuedTokens`], [`Sessions`] shows no key material, token or claim value; `tracing`
//!   events (feature `tracing`) are at debug level and carry only the description.
//! - **Server faults are 503**, never 401. Every backend and user-directory call goes through
//!   one guard: a timeout ([`defaults::BACKEND_TIMEOUT`]) and a limit of calls in flight
//!   ([`defaults::MAX_BACKEND_CALLS`]), past which a request is refused at once with 503 and
//!   `Retry-After: 1` instead of queueing. The timeout runs on a small timer thread of its
//!   own and works under any executor.
//! - **Configuration mistakes are [`ConfigError`]s** from `build()` or the [`Keys`]
//!   constructors, never a panic on the first request: HMAC secrets under
//!   [`limits::MIN_HMAC_SECRET_LEN`] bytes, an algorithm of the wrong key family, an unparsable or
//!   mismatched key pair (a probe token is signed and verified), an access lifetime longer
//!   than the refresh lifetime, zero lifetimes or cache sizes, lifetimes over
//!   [`limits::MAX_LIFETIME`], a leeway over [`limits::MAX_LEEWAY`], a path without a leading `/`, an idle
//!   timeout shorter than the touch debounce, and a fraction of a second in a setting that
//!   token dates are compared with (they count in whole seconds).
//! - **Token dates are bounded**: an `exp`, `iat` or `nbf` past year 9999 is refused, so no
//!   time arithmetic on a token value can overflow; an `iat` in the future (beyond the
//!   leeway) is refused. The header and the claims must be JSON objects; a `crit` of any
//!   value, `null` included, is refused.
//! - **Several instances** share sessions through a backend with a revocation feed
//!   (`RedisBackend`, `RedisClusterBackend`, `PostgresBackend`: features `redis`, `postgres`).
//!   A revocation anywhere,
//!   including ends by idle timeout, reuse detection and deleted users, and "sign out
//!   everywhere" ([`Sessions::revoke_all`], [`Sessions::revoke_others`]), reaches every
//!   instance. Worst-case staleness (the measured figures are in `benches/README.md`):
//!   - feed up: another instance refuses the session's refresh and access tokens as soon as
//!     the log entry arrives (milliseconds on loopback);
//!   - feed connection dropped: the instance knows at once, reads every session from the
//!     store until it has reconnected and replayed the log: never stale;
//!   - feed connection silently dead: found within 3 s (a blocking read or a ping that does
//!     not answer), so a revocation made meanwhile may be missed for at most about 3 s,
//!     then replayed;
//!   - an instance starting: it replays the log (kept for an hour) before trusting its
//!     caches, and reads the backend until then;
//!   - the log lost entries (truncated, deleted, trimmed, its ids reset; see
//!     [`RevocationSink::log_complete_since`]): every instance that learns of it, running or
//!     starting later, checks each access token's session in the backend (and re-reads cached
//!     rows once) until every access token minted before the loss has expired: never stale.
//!
//!   [`Sessions::revocation_feed_up`] says which state an instance is in.
//! - **Known limits**: a backend *without* a feed (a custom one that does not implement
//!   [`SessionBackend::watch_revocations`]) shared by several processes sees a revocation
//!   made elsewhere only when its cached copy expires ([`defaults::CACHE_TTL`]) for refresh
//!   tokens, and at `exp` for access tokens; RFC 9068's `jti` and `client_id` are not
//!   minted.
//!
//! Machinable's bugs we do not copy: a header without a space panicked (here: 401/400), bad
//! logins were 404 (the example answers 401 with `WWW-Authenticate: Basic`), revoked
//! sessions were 404 on refresh (here: 401 `invalid_token`), inactive users were never
//! checked (here: at every refresh), a missing permission was 401 (here: 403
//! `insufficient_scope`).
//!
//! # Memory, and what happens at each bound
//!
//! Every structure the layer keeps is bounded; reaching a bound costs speed, never safety.
//!
//! | what | bound (default) | at the bound |
//! |---|---|---|
//! | verified-token cache | [`defaults::TOKEN_CACHE_BYTES`] (32 MiB, about 1.4 KiB per 420-byte token) | least useful entries are evicted; a miss pays the full signature check |
//! | its per-thread front | 128 tokens of at most 2 KiB per thread that serves requests (about 120 KiB for Machinable-sized tokens), until their `exp` | the slot is taken by the newer token; a miss asks the shared cache. A hit touches only the thread's own memory, so cache hits scale with cores |
//! | session cache | [`defaults::CACHE_CAPACITY`] entries (100 000, about 540 bytes each: ids, dates and generation; never the client's `meta`) | entries are evicted; a miss reads the backend. Unknown sessions are remembered as gone for at most 5 s |
//! | revoked set | [`defaults::REVOCATION_BUDGET`] revocations (100 000, about 150 bytes each, plus a fixed filter of 8 one-byte counters per revocation of the budget: 1 MiB), each kept for the access-token lifetime plus [`limits::MAX_LEEWAY`] | nothing is forgotten: until the refused revocation would have expired, an access token whose session is not in the set is checked against the session itself (session cache, then store). Slower, closed: a revoked token never gets in, and a backend failure is a 503 |
//! | user-claims window | one read per user per [`defaults::USER_CLAIMS_TTL`], as many users as the session cache | entries are evicted; a miss reads the directory |
//! | session `meta` | [`limits::MAX_META_LEN`] bytes per field | cut at a character boundary |
//! | [`Sessions::list`] | [`limits::MAX_LISTED_SESSIONS`], the newest | older sessions are not listed (they still work) |
//! | [`MemoryBackend`] | every live session | expired sessions are purged as new ones are created |
//!
//! No request and no revocation scans a structure: lookups are hashes, expiry pops queues.
//! An accepted request from the caches takes no lock and writes no memory another thread
//! writes (the revoked set is asked through a filter it only reads).
//!
//! **Floods from one client.** The layer bounds what a flood costs the backend: concurrent
//! loads of one session coalesce, unknown sessions are remembered as gone, reads of one
//! user's claims are shared within the window, and at most [`defaults::MAX_BACKEND_CALLS`]
//! backend calls are in flight (the rest get a quick 503). It has no notion of clients, so
//! per-client fairness belongs in front of it: a rate limiter keyed by client address or
//! user, such as `tower_governor::GovernorLayer` from tower-governor, placed outside the
//! session layer (`ServiceBuilder::new().layer(governor).layer(sessions.layer())`), so that
//! it also limits the refresh route and refusals.
//!
//! # Metrics
//!
//! With the feature `metrics`, the layer reports through the `metrics` facade (install any
//! recorder, for example metrics-exporter-prometheus; the example server does with
//! `METRICS_ADDR`). Labels are low-cardinality: never a user, a session or a token.
//!
//! | name | type | labels |
//! |---|---|---|
//! | `tjs_access_requests_total` | counter | `outcome` (`accepted`, `anonymous`, `refused`), `error`, `reason` |
//! | `tjs_token_cache_lookups_total` | counter | `result` (`hit`, `miss`) |
//! | `tjs_refresh_requests_total` | counter | `outcome` (`refreshed`, `refused`), `error`, `reason` |
//! | `tjs_backend_calls_total` | counter | `op`, `result` (`ok`, `error`) |
//! | `tjs_backend_call_duration_seconds` | histogram | `op` |
//! | `tjs_revocations_total` | counter | `source` (`local`, `feed`) |
//! | `tjs_dpop_proofs_total` | counter | `outcome` (`accepted`, `replayed`, `refused`), `reason` (the check that failed) |
//! | `tjs_revocation_feed_up` | gauge | 1 while the shared backend's revocation feed is up |
//!
//! With `tracing`, the refresh route and every backend call run in a debug-level span
//! (`refresh`, `session_backend` with its `op`) that records its `outcome`.
//!
//! # Cargo features
//!
//! Listed once, in the README's feature table; every item behind a feature says which.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unreachable_pub)]

mod access;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
mod capability;
mod clock;
pub mod cookie;
pub mod defaults;
pub mod dpop;
mod error;
mod http;
mod keys;
pub mod limits;
mod machinable;
mod refresh;
mod routes;
mod scope;
mod service;
mod sessions;
mod standard_claims;
mod store;
mod telemetry;
mod timer;
mod token;
mod user_cache;
#[cfg(feature = "jwks")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
pub mod verifier;
mod well_known;

pub use self::http::{ResponseBody, ResponseFuture};
pub use cookie::RefreshCookie;
pub use dpop::Dpop;
pub use error::{AuthError, ConfigError, ErrorRenderer};
pub use jsonwebtoken::Algorithm;
pub use keys::Keys;
pub use machinable::{MachinableClaims, MachinableUser, scopes};
pub use scope::{RequireScope, RequireScopeLayer, Scope};
pub use service::{SessionLayer, SessionService};
pub use sessions::{IssuedTokens, SessionError, Sessions, SessionsBuilder};
pub use standard_claims::{HasScopes, Scopes, StandardClaims};
pub use store::MemoryBackend;
pub use token::Claims;
pub use tower_jwt_sessions_core::{
    BackendError, ReplayBackend, RevocationSink, RotatingBackend, Session, SessionBackend,
    SessionMeta, UserClaims, Users,
};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use tower_jwt_sessions_postgres::{PostgresBackend, PostgresBackendBuilder};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use tower_jwt_sessions_redis::{
    RedisBackend, RedisBackendBuilder, RedisClusterBackend, RedisClusterBackendBuilder,
};
#[cfg(feature = "jwks")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwks")))]
pub use verifier::{Verifier, VerifierBuilder};
