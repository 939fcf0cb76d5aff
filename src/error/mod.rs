//! Why a request was refused, and how that becomes an RFC 6750 response.

mod config;
pub(crate) mod refusals;
mod render;

pub use config::ConfigError;
pub use render::ErrorRenderer;
pub(crate) use render::token_endpoint;

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Response, StatusCode};

/// Why the layer (or the app, through [`AuthError::insufficient_scope`]) refused a request.
///
/// Every variant is a client-facing answer: rendering it gives a complete response with the
/// status, the `WWW-Authenticate` challenge and a JSON body
/// `{"error": "...", "error_description": "..."}`. Descriptions are fixed strings chosen by
/// the crate: they never contain the token, a secret or a claim value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The request carried no Bearer credentials: 401 with a bare challenge (RFC 6750 §3.1).
    MissingCredentials,
    /// The request is malformed, for example the token was sent twice: 400 `invalid_request`.
    InvalidRequest(&'static str),
    /// The token is malformed, expired, revoked, of the wrong kind or badly signed:
    /// 401 `invalid_token`.
    InvalidToken(&'static str),
    /// The token is valid but lacks a permission: 403 `insufficient_scope`.
    InsufficientScope(Cow<'static, str>),
    /// Something the check needs is down: the session backend failed or timed out, or a
    /// verifier's issuer keys have not arrived yet. 503 with `Retry-After`, never 401, since
    /// the client did nothing wrong; the text says what is missing.
    Unavailable(&'static str),
    /// The refresh route was called with another method than `POST`: 405 with `Allow: POST`.
    MethodNotAllowed,
    /// A refresh by cookie came from a foreign or unknown origin (the cross-site request
    /// forgery defence of [`RefreshCookie`](crate::RefreshCookie)): 403 `cross_site_request`.
    CrossSiteRequest(&'static str),
    /// A DPoP proof failed one of RFC 9449's checks, or was used before: 401
    /// `invalid_dpop_proof` with a `DPoP` challenge.
    InvalidDpopProof(&'static str),
    /// The DPoP proof lacks the server's current nonce: 401 `use_dpop_nonce`, with the nonce
    /// to use in a `DPoP-Nonce` header (RFC 9449 §8).
    UseDpopNonce(String),
    /// The token and the scheme do not go together: a token bound to a key sent as Bearer,
    /// an unbound one sent as DPoP, or Bearer where DPoP is required. 401 `invalid_token`
    /// with a `DPoP` challenge.
    InvalidDpopToken(&'static str),
    /// The refresh route's standard form (RFC 6749 §6) named another grant than
    /// `refresh_token`: 400 `unsupported_grant_type` (RFC 6749 §5.2), without a challenge.
    UnsupportedGrantType(&'static str),
    /// The token is valid, but the user's authentication is too weak or too old for this
    /// request (RFC 9470 §3): 401 `insufficient_user_authentication`, with the `acr_values`
    /// and the `max_age` (seconds) a new authorization must meet, and the `scope` to ask for
    /// again, when given, so that the client does not lose what the request needs.
    InsufficientUserAuthentication {
        /// The acceptable authentication context classes, space-separated.
        acr_values: Option<Cow<'static, str>>,
        /// The greatest age of the user's authentication, in seconds.
        max_age: Option<u64>,
        /// The scopes the request needs, space-separated.
        scope: Option<Cow<'static, str>>,
    },
}

impl AuthError {
    /// A 403 `insufficient_scope` naming the permission that was missing (`"write"`, say).
    ///
    /// ```
    /// use tower_jwt_sessions::AuthError;
    /// let err = AuthError::insufficient_scope("write");
    /// assert_eq!(err.status(), http::StatusCode::FORBIDDEN);
    /// ```
    pub fn insufficient_scope(scope: impl Into<Cow<'static, str>>) -> Self {
        AuthError::InsufficientScope(scope.into())
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::MissingCredentials
            | AuthError::InvalidToken(_)
            | AuthError::InvalidDpopProof(_)
            | AuthError::UseDpopNonce(_)
            | AuthError::InvalidDpopToken(_)
            | AuthError::InsufficientUserAuthentication { .. } => StatusCode::UNAUTHORIZED,
            AuthError::InvalidRequest(_) | AuthError::UnsupportedGrantType(_) => {
                StatusCode::BAD_REQUEST
            }
            AuthError::InsufficientScope(_) | AuthError::CrossSiteRequest(_) => {
                StatusCode::FORBIDDEN
            }
            AuthError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// The RFC 6750 (or RFC 6749) error code, `None` for a bare challenge.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            AuthError::MissingCredentials => None,
            AuthError::InvalidRequest(_) => Some("invalid_request"),
            AuthError::InvalidToken(_) | AuthError::InvalidDpopToken(_) => Some("invalid_token"),
            AuthError::InvalidDpopProof(_) => Some("invalid_dpop_proof"),
            AuthError::UseDpopNonce(_) => Some("use_dpop_nonce"),
            AuthError::InsufficientScope(_) => Some("insufficient_scope"),
            AuthError::Unavailable(_) => Some("temporarily_unavailable"),
            AuthError::MethodNotAllowed => Some("method_not_allowed"),
            AuthError::CrossSiteRequest(_) => Some("cross_site_request"),
            AuthError::UnsupportedGrantType(_) => Some("unsupported_grant_type"),
            AuthError::InsufficientUserAuthentication { .. } => {
                Some("insufficient_user_authentication")
            }
        }
    }

    /// A short human-readable explanation, safe to show to the client.
    pub fn description(&self) -> &str {
        match self {
            AuthError::MissingCredentials => "a Bearer token is required",
            AuthError::InvalidRequest(d)
            | AuthError::InvalidToken(d)
            | AuthError::CrossSiteRequest(d)
            | AuthError::InvalidDpopProof(d)
            | AuthError::InvalidDpopToken(d)
            | AuthError::UnsupportedGrantType(d) => d,
            AuthError::UseDpopNonce(_) => "the DPoP proof must carry the server's nonce",
            AuthError::InsufficientScope(_) => "the token lacks the permission this request needs",
            AuthError::Unavailable(d) => d,
            AuthError::MethodNotAllowed => "this route only accepts POST",
            AuthError::InsufficientUserAuthentication { .. } => {
                "a stronger or more recent authentication of the user is required"
            }
        }
    }

    /// Whether the challenge is a `DPoP` one (RFC 9449 §7.1).
    pub(crate) fn is_dpop(&self) -> bool {
        matches!(
            self,
            AuthError::InvalidDpopProof(_)
                | AuthError::UseDpopNonce(_)
                | AuthError::InvalidDpopToken(_)
        )
    }

    /// Renders the error with the crate's default format; `realm` goes into the challenge.
    pub fn to_response(&self, realm: Option<&str>) -> Response<Bytes> {
        let mut body = String::with_capacity(160);
        body.push_str("{\"error\":");
        push_json_string(&mut body, self.code().unwrap_or("unauthorized"));
        body.push_str(",\"error_description\":");
        push_json_string(&mut body, self.description());
        if let AuthError::InsufficientScope(scope) = self {
            body.push_str(",\"scope\":");
            push_json_string(&mut body, scope);
        }
        body.push('}');

        let mut response = Response::new(Bytes::from(body));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self {
            AuthError::MethodNotAllowed => {
                headers.insert(ALLOW, HeaderValue::from_static("POST"));
            }
            AuthError::Unavailable(_) => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // Not a matter of credentials: no challenge.
            AuthError::CrossSiteRequest(_) | AuthError::UnsupportedGrantType(_) => {}
            AuthError::UseDpopNonce(nonce) => {
                if let Ok(nonce) = HeaderValue::from_str(nonce) {
                    headers.insert("dpop-nonce", nonce);
                }
                if let Some(challenge) = self.challenge(realm) {
                    headers.insert(WWW_AUTHENTICATE, challenge);
                }
            }
            AuthError::InvalidRequest(_)
            | AuthError::InvalidToken(_)
            | AuthError::InsufficientScope(_)
            | AuthError::MissingCredentials
            | AuthError::InvalidDpopProof(_)
            | AuthError::InvalidDpopToken(_)
            | AuthError::InsufficientUserAuthentication { .. } => {
                if let Some(challenge) = self.challenge(realm) {
                    headers.insert(WWW_AUTHENTICATE, challenge);
                }
            }
        }
        response
    }

    /// The `WWW-Authenticate` value: `Bearer` alone when no credentials were sent, with
    /// `error` and `error_description` (each once, quoted) otherwise.
    pub fn challenge(&self, realm: Option<&str>) -> Option<HeaderValue> {
        if matches!(
            self,
            AuthError::Unavailable(_)
                | AuthError::MethodNotAllowed
                | AuthError::CrossSiteRequest(_)
                | AuthError::UnsupportedGrantType(_)
        ) {
            return None;
        }
        if realm.is_none() && *self == AuthError::MissingCredentials {
            return Some(HeaderValue::from_static("Bearer"));
        }
        let scheme = if self.is_dpop() { "DPoP" } else { "Bearer" };
        let mut value = String::with_capacity(128);
        value.push_str(scheme);
        let mut param = |name: &str, v: &str| {
            value.push_str(if value.len() == scheme.len() {
                " "
            } else {
                ", "
            });
            value.push_str(name);
            value.push_str("=\"");
            value.push_str(&quote_safe(v));
            value.push('"');
        };
        if let Some(realm) = realm {
            param("realm", realm);
        }
        if let Some(code) = self.code() {
            param("error", code);
            param("error_description", self.description());
        }
        match self {
            AuthError::InsufficientScope(scope) => param("scope", scope),
            AuthError::InsufficientUserAuthentication {
                acr_values,
                max_age,
                scope,
            } => {
                if let Some(acr_values) = acr_values {
                    param("acr_values", acr_values);
                }
                if let Some(max_age) = max_age {
                    param("max_age", &max_age.to_string());
                }
                if let Some(scope) = scope {
                    param("scope", scope);
                }
            }
            _ => {}
        }
        HeaderValue::from_str(&value).ok()
    }
}

/// `url` without the user name and password it may hold, for an error message.
#[cfg(feature = "jwks")]
pub(crate) fn without_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            match rest[..end].rfind('@') {
                Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

/// An error and each of its sources, joined by `": "`, for a log line: the cause is often
/// the one fact the operator needs ("connection refused", "invalid port number").
pub(crate) struct Chain<'a>(pub(crate) &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0, f)?;
        let mut next = self.0.source();
        while let Some(err) = next {
            write!(f, ": {err}")?;
            next = err.source();
        }
        Ok(())
    }
}

fn push_json_string(out: &mut String, value: &str) {
    match serde_json::to_string(value) {
        Ok(quoted) => out.push_str(&quoted),
        Err(_) => out.push_str("\"\""),
    }
}

/// RFC 6750 §3 limits parameter values to printable ASCII without `"` and `\`.
fn quote_safe(value: &str) -> Cow<'_, str> {
    if value
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(
            value
                .chars()
                .filter(|c| c.is_ascii() && !c.is_ascii_control() && *c != '"' && *c != '\\')
                .collect(),
        )
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code() {
            Some(code) => write!(f, "{code}: {}", self.description()),
            None => f.write_str(self.description()),
        }
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_credentials_is_a_bare_challenge() {
        let res = AuthError::MissingCredentials.to_response(None);
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()[WWW_AUTHENTICATE], "Bearer");
    }

    #[test]
    fn realm_only_challenge() {
        let res = AuthError::MissingCredentials.to_response(Some("pet-demo"));
        assert_eq!(res.headers()[WWW_AUTHENTICATE], "Bearer realm=\"pet-demo\"");
    }

    #[test]
    fn invalid_token_carries_error_once() {
        let res = AuthError::InvalidToken("the token has expired").to_response(None);
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let value = res.headers()[WWW_AUTHENTICATE].to_str().unwrap();
        assert_eq!(
            value,
            "Bearer error=\"invalid_token\", error_description=\"the token has expired\""
        );
        assert_eq!(value.matches("error=").count(), 1);
        let body: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(body["error"], "invalid_token");
        assert_eq!(body["error_description"], "the token has expired");
    }

    #[test]
    fn scope_and_unavailable_and_405() {
        let res = AuthError::insufficient_scope("write").to_response(None);
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(
            res.headers()[WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .contains("scope=\"write\"")
        );
        let res = refusals::BACKEND_UNAVAILABLE.to_response(None);
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(res.headers()[RETRY_AFTER], "1");
        let res = AuthError::MethodNotAllowed.to_response(None);
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()[ALLOW], "POST");
    }

    #[test]
    fn quotes_are_stripped_from_params() {
        let v = AuthError::insufficient_scope("a\"b\\c")
            .challenge(Some("r\"x"))
            .unwrap();
        let v = v.to_str().unwrap();
        assert!(v.contains("realm=\"rx\""));
        assert!(v.contains("scope=\"abc\""));
    }
}
