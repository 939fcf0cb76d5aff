//! The app's hook to change how refusals look.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Response};

use super::{AuthError, refusals};

/// Turns an [`AuthError`] into the response the client gets, with the realm named in every
/// `WWW-Authenticate` challenge.
///
/// The default is [`AuthError::to_response`] without a realm; give one with
/// [`with_realm`](Self::with_realm), and the renderer to
/// [`SessionsBuilder::error_renderer`](crate::SessionsBuilder::error_renderer). A rendering
/// of your own ([`new`](Self::new)) gets the realm too. The renderer is called only for
/// refusals, never on the success path. The refusals of the refresh route's standard form
/// (RFC 6749 §6) are not rendered here: OAuth clients parse them as RFC 6749 §5.2 fixes.
///
/// ```
/// use tower_jwt_sessions::{AuthError, ErrorRenderer};
///
/// let renderer = ErrorRenderer::default().with_realm("pet-demo");
/// let res = renderer.render(&AuthError::MissingCredentials);
/// assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"pet-demo\"");
///
/// // Another body, the same status and challenge.
/// let terse = ErrorRenderer::new(|err, realm| {
///     let mut res = err.to_response(realm);
///     *res.body_mut() = err.description().to_owned().into();
///     res
/// })
/// .with_realm("pet-demo");
/// ```
#[derive(Clone)]
pub struct ErrorRenderer {
    // One `Arc`: every verified token's claims carry a clone.
    inner: Arc<Inner>,
}

struct Inner {
    realm: Option<String>,
    challenges: Challenges,
    render: Render,
}

/// What a layer adds to its 401 challenges beyond the error: where its RFC 9728 metadata is
/// (§5.1), and that it takes DPoP (RFC 9449 §7.1).
#[derive(Clone, Default)]
struct Challenges {
    resource_metadata: Option<String>,
    /// `scope="..."`: what a token needs here, for a client that has none yet.
    scope: Option<String>,
    dpop: Option<DpopChallenge>,
}

#[derive(Clone)]
struct DpopChallenge {
    /// Bearer is refused: every challenge is a DPoP one.
    required: bool,
    /// `algs="..."`: the proof algorithms accepted.
    algs: String,
}

enum Render {
    /// The crate's rendering, every fixed refusal prepared with the realm.
    Default(Prepared),
    Custom(Arc<RenderFn>),
}

type RenderFn = dyn Fn(&AuthError, Option<&str>) -> Response<Bytes> + Send + Sync;

impl ErrorRenderer {
    /// Wraps a rendering function, given each error and the realm (`None` until
    /// [`with_realm`](Self::with_realm)); [`AuthError::to_response`] renders the default.
    pub fn new(
        render: impl Fn(&AuthError, Option<&str>) -> Response<Bytes> + Send + Sync + 'static,
    ) -> Self {
        ErrorRenderer {
            inner: Arc::new(Inner {
                realm: None,
                challenges: Challenges::default(),
                render: Render::Custom(Arc::new(render)),
            }),
        }
    }

    /// Names `realm` in every `WWW-Authenticate` challenge (RFC 6750 §3).
    pub fn with_realm(self, realm: impl Into<String>) -> Self {
        self.rebuilt(Some(realm.into()), self.inner.challenges.clone())
    }

    /// Names the resource's RFC 9728 metadata URL in every 401 challenge
    /// (`resource_metadata="..."`, RFC 9728 §5.1); set by a verifier that serves one.
    #[cfg(feature = "jwks")]
    pub(crate) fn with_resource_metadata(self, url: String) -> Self {
        let mut challenges = self.inner.challenges.clone();
        challenges.resource_metadata = Some(url);
        self.rebuilt(self.inner.realm.clone(), challenges)
    }

    /// Names `scope` (space-separated) in every 401 challenge that names no scope of its own
    /// (RFC 6750 §3): the scope a client should ask for before its first request. An MCP
    /// server names its base scope here (MCP authorization, "Scope Selection Strategy"):
    /// without it a client asks for every scope of the metadata, or for none.
    ///
    /// ```
    /// use tower_jwt_sessions::{AuthError, ErrorRenderer};
    /// let renderer = ErrorRenderer::default().with_scope("mcp");
    /// let res = renderer.render(&AuthError::MissingCredentials);
    /// assert_eq!(res.headers()["www-authenticate"], "Bearer scope=\"mcp\"");
    /// ```
    pub fn with_scope(self, scope: impl Into<String>) -> Self {
        let mut challenges = self.inner.challenges.clone();
        challenges.scope = Some(scope.into());
        self.rebuilt(self.inner.realm.clone(), challenges)
    }

    /// Offers DPoP in every 401 challenge (RFC 9449 §7.1): beside Bearer, or instead of it
    /// when `required`, with the proof algorithms accepted.
    pub(crate) fn with_dpop(self, required: bool, algs: String) -> Self {
        let mut challenges = self.inner.challenges.clone();
        challenges.dpop = Some(DpopChallenge { required, algs });
        self.rebuilt(self.inner.realm.clone(), challenges)
    }

    fn rebuilt(&self, realm: Option<String>, challenges: Challenges) -> Self {
        let render = match &self.inner.render {
            Render::Default(_) => Render::Default(Prepared::new(realm.as_deref(), &challenges)),
            Render::Custom(render) => Render::Custom(Arc::clone(render)),
        };
        ErrorRenderer {
            inner: Arc::new(Inner {
                realm,
                challenges,
                render,
            }),
        }
    }

    /// The realm of the challenges, if one was given.
    pub fn realm(&self) -> Option<&str> {
        self.inner.realm.as_deref()
    }

    /// Renders a refusal of a request that came with the DPoP scheme: a 403 is challenged
    /// with `DPoP` too (RFC 9449 §7.1).
    pub(crate) fn render_dpop(&self, err: &AuthError) -> Response<Bytes> {
        let challenges = &self.inner.challenges;
        // A 401 after the token passed (a step-up, RFC 9470): the DPoP challenge alone, as
        // if DPoP were required, since this client holds a bound token.
        if err.status() == http::StatusCode::UNAUTHORIZED
            && !err.is_dpop()
            && let Some(dpop) = challenges.dpop.as_ref().filter(|dpop| !dpop.required)
        {
            let dpop_only = Challenges {
                dpop: Some(DpopChallenge {
                    required: true,
                    algs: dpop.algs.clone(),
                }),
                ..challenges.clone()
            };
            let response = match &self.inner.render {
                Render::Default(_) => err.to_response(self.realm()),
                Render::Custom(render) => render(err, self.realm()),
            };
            return dpop_only.add_to(response);
        }
        challenges.as_dpop(self.render(err))
    }

    /// Renders one error.
    pub fn render(&self, err: &AuthError) -> Response<Bytes> {
        let realm = self.realm();
        let challenges = &self.inner.challenges;
        match &self.inner.render {
            Render::Default(prepared) => prepared
                .render(err)
                .unwrap_or_else(|| challenges.add_to(err.to_response(realm))),
            Render::Custom(render) => {
                let mut response = challenges.add_to(render(err, realm));
                // The nonce a client must use is not the custom rendering's to drop.
                if let AuthError::UseDpopNonce(nonce) = err
                    && let Ok(nonce) = http::HeaderValue::from_str(nonce)
                {
                    response.headers_mut().insert("dpop-nonce", nonce);
                }
                response
            }
        }
    }
}

/// A refusal of the refresh route's standard form (RFC 6749 §6), as a token endpoint answers
/// one (RFC 6749 §5.2, RFC 9449 §5 and §8): 400 with `{"error", "error_description"}` and no
/// challenge, whatever the error is at a resource; a refresh token the session no longer
/// honours is `invalid_grant`. A server fault stays a 503 with `Retry-After`.
pub(crate) fn token_endpoint(err: &AuthError) -> Response<Bytes> {
    use http::header::{CACHE_CONTROL, CONTENT_TYPE, PRAGMA, RETRY_AFTER};
    use http::{HeaderValue, StatusCode};
    let code = match err {
        AuthError::InvalidToken(_)
        | AuthError::InvalidDpopToken(_)
        | AuthError::MissingCredentials => "invalid_grant",
        other => other.code().unwrap_or("invalid_request"),
    };
    let body = serde_json::json!({"error": code, "error_description": err.description()});
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = match err {
        AuthError::Unavailable(_) | AuthError::MethodNotAllowed => err.status(),
        _ => StatusCode::BAD_REQUEST,
    };
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // RFC 6749 §5.1 asks this of token responses; a refusal is about one request too.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    match err {
        AuthError::Unavailable(_) => {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        AuthError::MethodNotAllowed => {
            headers.insert(http::header::ALLOW, HeaderValue::from_static("POST"));
        }
        AuthError::UseDpopNonce(nonce) => {
            if let Ok(nonce) = HeaderValue::from_str(nonce) {
                headers.insert("dpop-nonce", nonce);
            }
        }
        _ => {}
    }
    response
}

impl Challenges {
    /// A 401's challenge with the layer's additions; a 403 `insufficient_scope` gets the
    /// metadata URL alone (RFC 9728 §5.1 allows it in any challenge; MCP clients read it
    /// there to ask for more scopes).
    fn add_to(&self, mut response: Response<Bytes>) -> Response<Bytes> {
        if response.status() == http::StatusCode::FORBIDDEN {
            return self.add_metadata_to_403(response);
        }
        if response.status() != http::StatusCode::UNAUTHORIZED
            || (self.resource_metadata.is_none() && self.scope.is_none() && self.dpop.is_none())
        {
            return response;
        }
        let headers = response.headers_mut();
        let Some(mut challenge) = headers
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
        else {
            return response;
        };
        let param = push_param;
        if let Some(url) = &self.resource_metadata {
            param(&mut challenge, "resource_metadata", url);
        }
        if let Some(scope) = &self.scope
            && !challenge.contains(" scope=\"")
        {
            param(&mut challenge, "scope", scope);
        }
        if let Some(dpop) = &self.dpop {
            if challenge.starts_with("DPoP") {
                param(&mut challenge, "algs", &dpop.algs);
            } else if dpop.required
                && challenge
                    .get(.."Bearer".len())
                    .is_some_and(|scheme| scheme.eq_ignore_ascii_case("Bearer"))
            {
                challenge.replace_range(.."Bearer".len(), "DPoP");
                param(&mut challenge, "algs", &dpop.algs);
            } else {
                let mut offer = String::from("DPoP");
                param(&mut offer, "algs", &dpop.algs);
                challenge.push_str(", ");
                challenge.push_str(&offer);
            }
        }
        if let Ok(value) = http::HeaderValue::from_str(&challenge) {
            headers.insert(http::header::WWW_AUTHENTICATE, value);
        }
        response
    }

    fn add_metadata_to_403(&self, mut response: Response<Bytes>) -> Response<Bytes> {
        let Some(url) = &self.resource_metadata else {
            return response;
        };
        let headers = response.headers_mut();
        let Some(mut challenge) = headers
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.contains("error=\"insufficient_scope\""))
            .map(str::to_owned)
        else {
            return response;
        };
        push_param(&mut challenge, "resource_metadata", url);
        if let Ok(value) = http::HeaderValue::from_str(&challenge) {
            headers.insert(http::header::WWW_AUTHENTICATE, value);
        }
        response
    }

    /// A 403's `Bearer` challenge made a `DPoP` one with `algs`, for a request that came with
    /// the DPoP scheme (RFC 9449 §7.1); its 401s already are.
    fn as_dpop(&self, mut response: Response<Bytes>) -> Response<Bytes> {
        let Some(dpop) = &self.dpop else {
            return response;
        };
        if response.status() != http::StatusCode::FORBIDDEN {
            return response;
        }
        let headers = response.headers_mut();
        let Some(rest) = headers
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer"))
        else {
            return response;
        };
        let mut challenge = format!("DPoP{rest}");
        push_param(&mut challenge, "algs", &dpop.algs);
        if let Ok(value) = http::HeaderValue::from_str(&challenge) {
            headers.insert(http::header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// Appends `name="value"` to a challenge, dropping what a quoted string cannot hold.
fn push_param(challenge: &mut String, name: &str, value: &str) {
    let bare = !challenge.contains(' ');
    challenge.push_str(if bare { " " } else { ", " });
    challenge.push_str(name);
    challenge.push_str("=\"");
    challenge.extend(
        value
            .chars()
            .filter(|c| (c.is_ascii_graphic() || *c == ' ') && *c != '"' && *c != '\\'),
    );
    challenge.push('"');
}

/// Every fixed refusal rendered once (body and headers), so that refusing garbage costs a
/// table lookup and a copy of a small header map, not JSON and header formatting (1.17 x on
/// a bad signature, 1.41 x on a request without a token: `prepared_refusals` in
/// `benches/README.md`).
struct Prepared {
    responses: HashMap<Key, (HeaderMap, Bytes), BuildHasherDefault<KeyHasher>>,
}

/// A refusal's variant and text, as the prepared table's key. The crate's texts are told
/// apart by variant, length and their last eight bytes (texts of one length tend to share
/// their start, "the token ..."), and a text is usually the very constant the table was
/// prepared from: a lookup hashes one integer and compares addresses, and reads the whole
/// text only when they differ (`refusal_key` in `benches/README.md`: SipHash and a
/// comparison of the whole text had cost a refusal without credentials about 100 ns).
#[derive(Clone, Copy, Eq)]
struct Key(u8, &'static str);

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.0 == other.0
            && self.1.len() == other.1.len()
            && (std::ptr::eq(self.1.as_ptr(), other.1.as_ptr()) || self.1 == other.1)
    }
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let tail = (self.1.as_bytes().iter().rev().take(8))
            .fold(0u64, |tail, &byte| tail << 8 | u64::from(byte));
        state.write_u64(tail ^ (self.1.len() as u64) << 40 ^ u64::from(self.0) << 56);
    }
}

/// One multiply over [`Key`]'s one integer, its high half folded into the low bits that
/// pick the bucket.
#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ self.0 >> 32
    }
}

impl Prepared {
    fn new(realm: Option<&str>, challenges: &Challenges) -> Self {
        let responses = refusals::ALL
            .iter()
            .filter_map(|err| {
                let key = Prepared::key(err)?;
                let response = challenges.add_to(err.to_response(realm));
                let (parts, body) = response.into_parts();
                Some((key, (parts.headers, body)))
            })
            .collect();
        Prepared { responses }
    }

    /// Only refusals whose text is fixed by the crate have a key: the variant and the text.
    fn key(err: &AuthError) -> Option<Key> {
        match err {
            AuthError::InvalidRequest(d) => Some(Key(0, d)),
            AuthError::InvalidToken(d) => Some(Key(1, d)),
            AuthError::MissingCredentials => Some(Key(2, "")),
            AuthError::Unavailable(d) => Some(Key(3, d)),
            AuthError::MethodNotAllowed => Some(Key(4, "")),
            _ => None,
        }
    }

    fn render(&self, err: &AuthError) -> Option<Response<Bytes>> {
        let (headers, body) = self.responses.get(&Prepared::key(err)?)?;
        let mut response = Response::new(body.clone());
        *response.status_mut() = err.status();
        *response.headers_mut() = headers.clone();
        Some(response)
    }
}

impl Default for ErrorRenderer {
    /// The crate's rendering ([`AuthError::to_response`]), without a realm.
    fn default() -> Self {
        ErrorRenderer {
            inner: Arc::new(Inner {
                realm: None,
                challenges: Challenges::default(),
                render: Render::Default(Prepared::new(None, &Challenges::default())),
            }),
        }
    }
}

impl fmt::Debug for ErrorRenderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorRenderer")
            .field("realm", &self.realm())
            .field("custom", &matches!(self.inner.render, Render::Custom(_)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_crates_refusals_hash_apart() {
        use std::hash::BuildHasher;
        let keys: Vec<Key> = refusals::ALL.iter().filter_map(Prepared::key).collect();
        let hasher = BuildHasherDefault::<KeyHasher>::default();
        let hashes: std::collections::HashSet<u64> =
            keys.iter().map(|key| hasher.hash_one(key)).collect();
        assert_eq!(hashes.len(), keys.len());
        assert!(keys.len() > 30, "{}", keys.len());
    }

    #[test]
    fn prepared_refusals_equal_rendered_ones() {
        for realm in [None, Some("pet-demo")] {
            let renderer = match realm {
                Some(realm) => ErrorRenderer::default().with_realm(realm),
                None => ErrorRenderer::default(),
            };
            let mut errors = refusals::ALL.to_vec();
            errors.push(AuthError::insufficient_scope("write"));
            errors.push(AuthError::InvalidToken("a text of the app's own"));
            // An empty text must not be taken for the bare challenge of no credentials.
            errors.push(AuthError::InvalidToken(""));
            for err in errors {
                let (fresh, fresh_body) = err.to_response(realm).into_parts();
                let (prepared, prepared_body) = renderer.render(&err).into_parts();
                assert_eq!(prepared.status, fresh.status, "{err}");
                assert_eq!(prepared.headers, fresh.headers, "{err}");
                assert_eq!(prepared_body, fresh_body, "{err}");
            }
        }
    }

    #[test]
    fn token_endpoint_refusals_are_rfc_6749_errors_without_challenge() {
        let answer = |err: &AuthError| {
            let response = token_endpoint(err);
            let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
            assert!(
                response
                    .headers()
                    .get(http::header::WWW_AUTHENTICATE)
                    .is_none()
            );
            assert_eq!(response.headers()[http::header::CACHE_CONTROL], "no-store");
            assert_eq!(body["error_description"], err.description());
            (
                response.status().as_u16(),
                body["error"].as_str().unwrap().to_owned(),
            )
        };
        let grant = |code: &str| (400, code.to_owned());
        assert_eq!(answer(&refusals::TOKEN_REUSED), grant("invalid_grant"));
        assert_eq!(answer(&refusals::DPOP_REQUIRED), grant("invalid_grant"));
        assert_eq!(answer(&refusals::EMPTY_BEARER), grant("invalid_request"));
        assert_eq!(
            answer(&refusals::UNSUPPORTED_GRANT),
            grant("unsupported_grant_type")
        );
        assert_eq!(
            answer(&refusals::PROOF_OTHER_KEY),
            grant("invalid_dpop_proof")
        );
        let nonce = AuthError::UseDpopNonce("n-1".into());
        assert_eq!(answer(&nonce), grant("use_dpop_nonce"));
        assert_eq!(token_endpoint(&nonce).headers()["dpop-nonce"], "n-1");
        let down = token_endpoint(&refusals::BACKEND_UNAVAILABLE);
        assert_eq!(down.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.headers()[http::header::RETRY_AFTER], "1");
    }

    #[test]
    fn a_custom_renderer_gets_the_realm() {
        let renderer = ErrorRenderer::new(|err, realm| err.to_response(realm));
        let challenge = |r: &ErrorRenderer| {
            r.render(&AuthError::MissingCredentials).headers()[http::header::WWW_AUTHENTICATE]
                .clone()
        };
        assert_eq!(challenge(&renderer), "Bearer");
        let renderer = renderer.with_realm("pet-demo");
        assert_eq!(renderer.realm(), Some("pet-demo"));
        assert_eq!(challenge(&renderer), "Bearer realm=\"pet-demo\"");
    }
}
