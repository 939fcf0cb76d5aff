//! The verified claims of an access token, as handlers read them.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::Serialize;

use super::wire::AccessClaims;
use crate::error::{AuthError, ErrorRenderer};

/// The verified claims of an access token, inserted by the layer into the request extensions.
///
/// It dereferences to your own claim type `C`, so `claims.user.write` reads as written. The
/// registered claims have accessors. Cloning is one reference-count increment (extractors
/// clone). `Debug` shows no claim values: logs stay free of personal data.
///
/// ```
/// # use tower_jwt_sessions::{Claims, MachinableClaims};
/// fn handler(req: http::Request<()>) -> bool {
///     let claims = req.extensions().get::<Claims<MachinableClaims>>().unwrap();
///     claims.user.write
/// }
/// ```
pub struct Claims<C> {
    inner: Arc<Verified<C>>,
}

/// What one `Arc` holds, so that handing the claims to a request is one reference-count
/// increment (on an `Arc` private to the thread, when served from its token cache).
#[derive(Clone)]
pub(crate) struct Verified<C> {
    claims: AccessClaims<C>,
    /// How refusals made from these claims (a missing scope) are rendered: the layer's own
    /// renderer, carried along so that extractors answer exactly as the layer does.
    renderer: ErrorRenderer,
    /// The session id's hash, computed once with the claims: every request served from the
    /// token cache asks the revoked set about it, which then hashes nothing.
    session_hash: Option<SessionHash>,
}

/// A keyed hash of a session id, under one random key for the whole process, so that it can
/// be computed once per verified token and kept with its claims. The revoked set's filter
/// reads its counters from it (`session_hash` in `benches/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SessionHash(pub(crate) u64);

impl SessionHash {
    pub(crate) fn of(id: &str) -> Self {
        static KEY: OnceLock<RandomState> = OnceLock::new();
        SessionHash(KEY.get_or_init(RandomState::new).hash_one(id))
    }
}

impl<C> Claims<C> {
    pub(crate) fn new(claims: AccessClaims<C>, renderer: &ErrorRenderer) -> Self {
        Claims::from_arc(Arc::new(Verified {
            session_hash: claims.sid.as_deref().map(SessionHash::of),
            claims,
            renderer: renderer.clone(),
        }))
    }

    pub(crate) fn from_arc(inner: Arc<Verified<C>>) -> Self {
        Claims { inner }
    }

    /// Renders a refusal the way the layer that verified these claims does. A bound token
    /// came with the DPoP scheme (the layer takes it no other way): its 403s are challenged
    /// with `DPoP`.
    pub(crate) fn render(&self, err: &AuthError) -> http::Response<bytes::Bytes> {
        if self.dpop_jkt().is_some() {
            self.inner.renderer.render_dpop(err)
        } else {
            self.inner.renderer.render(err)
        }
    }

    /// The session id with its hash, for the revoked set.
    pub(crate) fn session(&self) -> Option<(&str, SessionHash)> {
        Some((self.inner.sid.as_deref()?, self.inner.session_hash?))
    }

    pub(crate) fn as_arc(&self) -> &Arc<Verified<C>> {
        &self.inner
    }

    /// The user id (`sub`); empty for an introspected token whose answer names none (a
    /// client-credentials token).
    pub fn subject(&self) -> &str {
        &self.inner.sub
    }

    /// The session this token was minted for (`sid`): always there in this crate's tokens,
    /// and in another issuer's only if it writes one (OpenID Connect's `sid`).
    pub fn session_id(&self) -> Option<&str> {
        self.inner.sid.as_deref()
    }

    /// When the token was issued, in seconds since the Unix epoch (`iat`); 0 for an
    /// introspected token whose answer says nothing of it.
    pub fn issued_at(&self) -> u64 {
        self.inner.iat
    }

    /// When the token expires, in seconds since the Unix epoch (`exp`); for an introspected
    /// token whose answer has none, when that answer stops being trusted (its TTL).
    pub fn expires_at(&self) -> u64 {
        self.inner.exp
    }

    /// The RFC 7638 thumbprint of the key this token is bound to (`cnf.jkt`, RFC 9449), if
    /// it is: the layer then accepted it only with a DPoP proof signed by that key.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.inner.cnf.as_ref().map(|cnf| cnf.jkt.as_str())
    }

    /// The issuer, when the token has one (`iss`).
    pub fn issuer(&self) -> Option<&str> {
        self.inner.iss.as_deref()
    }

    /// The user's own claims.
    pub fn custom(&self) -> &C {
        &self.inner.custom
    }
}

impl<C> Clone for Claims<C> {
    fn clone(&self) -> Self {
        Claims {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> Deref for Claims<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.inner.claims.custom
    }
}

impl<C> Deref for Verified<C> {
    type Target = AccessClaims<C>;

    fn deref(&self) -> &AccessClaims<C> {
        &self.claims
    }
}

/// Serializes as the token payload: registered claims and your own, side by side. When your
/// type holds registered claims too (as [`StandardClaims`](crate::StandardClaims) does),
/// serialize [`custom`](Self::custom) instead, or the object names them twice.
impl<C: Serialize> Serialize for Claims<C> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.inner.claims.serialize(serializer)
    }
}

impl<C> fmt::Debug for Claims<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("exp", &self.inner.exp)
            .finish_non_exhaustive()
    }
}
