//! The refresh token in an `HttpOnly` cookie, for browser apps (opt-in).
//!
//! OWASP tells single-page apps not to keep long-lived refresh tokens where JavaScript can
//! read them. With [`SessionsBuilder::refresh_cookie`](crate::SessionsBuilder::refresh_cookie):
//!
//! - the login answer sets the refresh token as an `HttpOnly; Secure; SameSite=Strict` cookie
//!   scoped to the refresh route ([`IssuedTokens::refresh_cookie`](crate::IssuedTokens::refresh_cookie)),
//!   and its JSON omits `refresh_token`;
//! - the refresh route reads that cookie when the request has no Bearer refresh token (an
//!   access token there, which HTTP clients attach to every call, does not mask it), after
//!   a cross-site request forgery check ([`RefreshCookie::allowed_origin`],
//!   [`RefreshCookie::csrf_header`]): a missing or foreign origin is a 403;
//! - with rotation, the new refresh token replaces the cookie and stays out of the body;
//! - a refused cookie (ended, expired, reused) is cleared, and
//!   [`Sessions::clear_refresh_cookie`](crate::Sessions::clear_refresh_cookie) gives the
//!   value that clears it at logout.
//!
//! For a page on another origin, the CORS layer goes outside the session layer, with
//! credentials allowed: the order is shown in the `axum` module's docs (feature `axum`; the
//! same holds for any tower stack).
//!
//! The Bearer API is unchanged: a request with a Bearer refresh token is served as before. Two values
//! of the cookie (a sibling subdomain can plant one with `Domain=`) are refused with a 400
//! that clears nothing; [`RefreshCookie::site_wide`] names the cookie with the `__Host-`
//! prefix, which browsers let nobody plant.
//!
//! ```
//! use tower_jwt_sessions::{Keys, MachinableClaims, MemoryBackend, RefreshCookie, Sessions};
//!
//! let memory = MemoryBackend::<MachinableClaims>::new();
//! let keys = Keys::hs256(b"a secret of at least thirty-two bytes!")?;
//! let sessions = Sessions::builder(keys, memory.clone(), memory)
//!     .refresh_cookie(RefreshCookie::new().allowed_origin("https://app.example"))
//!     .build()?;
//! // In the logout handler: `Set-Cookie` with this value.
//! let clear = sessions.clear_refresh_cookie().expect("cookie mode is on");
//! assert!(clear.to_str()?.starts_with("refresh_token=; Max-Age=0; Path=/sessions/refresh;"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod csrf;

use http::header::COOKIE;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::error::refusals::{DUPLICATE_REFRESH_COOKIE, MALFORMED, TOKEN_TOO_LONG};
use crate::error::{AuthError, ConfigError};
use crate::token::MAX_TOKEN_LEN;
use csrf::Csrf;

/// How the refresh-token cookie is set and which cross-site requests may use it; given to
/// [`SessionsBuilder::refresh_cookie`](crate::SessionsBuilder::refresh_cookie).
///
/// At least one defence against cross-site request forgery is required: an allowed
/// origin (compared with the request's `Origin`, or else its `Referer`), or a custom header
/// that a cross-site form cannot send and that your CORS policy does not allow to foreign
/// origins.
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct RefreshCookie {
    name: Option<String>,
    site_wide: bool,
    allowed_origins: Vec<String>,
    csrf_header: Option<HeaderName>,
}

impl RefreshCookie {
    /// A cookie named [`defaults::REFRESH_COOKIE`](crate::defaults::REFRESH_COOKIE), scoped to the refresh route, with no
    /// origin allowed yet.
    pub fn new() -> Self {
        RefreshCookie::default()
    }

    /// The cookie's name (an RFC 6265 token). A `__Host-` name needs [`site_wide`](Self::site_wide).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// `Path=/` instead of the refresh route's path, for apps whose proxy serves the refresh
    /// route under another path; the default name becomes
    /// [`defaults::SITE_WIDE_REFRESH_COOKIE`](crate::defaults::SITE_WIDE_REFRESH_COOKIE).
    pub fn site_wide(mut self) -> Self {
        self.site_wide = true;
        self
    }

    /// An origin (`https://app.example`, `http://localhost:5173`) whose pages may refresh
    /// by cookie. Call once per origin.
    pub fn allowed_origin(mut self, origin: impl Into<String>) -> Self {
        self.allowed_origins.push(origin.into());
        self
    }

    /// A request header (`x-requested-with`, say) whose presence admits a refresh by cookie
    /// whatever its origin: a cross-site form cannot send it, and a cross-site script can
    /// only if your CORS policy lets it.
    pub fn csrf_header(mut self, name: HeaderName) -> Self {
        self.csrf_header = Some(name);
        self
    }

    /// Checks the cookie for a refresh route at `refresh_path` (without its trailing slash):
    /// its name, its path and its defence against cross-site requests.
    pub(crate) fn check(&self, refresh_path: &str) -> Result<(), ConfigError> {
        let path = self.path(refresh_path);
        let name = self.name_or_default();
        // Browsers match the prefix in any case (RFC 6265bis §4.1.3.2).
        let host_prefixed = name
            .get(..7)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("__Host-"));
        if !is_token(&name) || (host_prefixed && path != "/") {
            return Err(ConfigError::BadCookieName(name));
        }
        // A path attribute runs to the next `;` (RFC 6265 §4.1.1).
        if path
            .bytes()
            .any(|b| !(0x21..0x7f).contains(&b) || b == b';')
        {
            return Err(ConfigError::BadPath(path.to_owned()));
        }
        Csrf::check_config(&self.allowed_origins, self.csrf_header.as_ref())
    }

    /// The cookie's `Path`: the refresh route's, or `/` when site-wide.
    fn path<'a>(&self, refresh_path: &'a str) -> &'a str {
        if self.site_wide { "/" } else { refresh_path }
    }

    fn name_or_default(&self) -> String {
        match &self.name {
            Some(name) => name.clone(),
            None if self.site_wide => crate::defaults::SITE_WIDE_REFRESH_COOKIE.to_owned(),
            None => crate::defaults::REFRESH_COOKIE.to_owned(),
        }
    }
}

/// The cookie transport, checked and ready: built once from a [`RefreshCookie`].
#[derive(Debug)]
pub(crate) struct CookieTransport {
    name: String,
    /// Everything after `Max-Age`: `; Path=...; HttpOnly; Secure; SameSite=Strict`.
    attributes: String,
    csrf: Csrf,
}

/// Where the refresh route found the refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    Bearer,
    Cookie,
    /// The standard form's body (`grant_type=refresh_token`, RFC 6749 §6): answered as a token
    /// endpoint answers.
    Form,
}

impl CookieTransport {
    /// The transport of a cookie that passed [`RefreshCookie::check`] for the same
    /// `refresh_path`: the route's path without its trailing slash, which a cookie path covers
    /// with or without one (RFC 6265 §5.1.4).
    pub(crate) fn new(config: RefreshCookie, refresh_path: &str) -> Self {
        let path = config.path(refresh_path);
        CookieTransport {
            name: config.name_or_default(),
            attributes: format!("; Path={path}; HttpOnly; Secure; SameSite=Strict"),
            csrf: Csrf::new(&config.allowed_origins, config.csrf_header),
        }
    }

    /// The `Set-Cookie` value carrying `token` for `max_age` seconds.
    pub(crate) fn set(&self, token: &str, max_age: u64) -> Option<HeaderValue> {
        let value = format!(
            "{}={token}; Max-Age={max_age}{}",
            self.name, self.attributes
        );
        let mut value = HeaderValue::from_str(&value).ok()?;
        // It carries the refresh token: kept out of `Debug` and header logs (HPACK too).
        value.set_sensitive(true);
        Some(value)
    }

    /// The `Set-Cookie` value that makes the browser forget the cookie.
    pub(crate) fn clear(&self) -> HeaderValue {
        let value = format!("{}=; Max-Age=0{}", self.name, self.attributes);
        // Name and path were checked at build: always a valid header value.
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The refresh token from the cookie: `None` when the request sent none; else checked
    /// against CSRF first, then for its shape.
    ///
    /// Two values of the cookie are refused, with a 400 that leaves the cookie alone: a
    /// sibling subdomain can plant a second one (`Domain=` the parent), and neither taking the
    /// first (its token, perhaps the attacker's session) nor clearing ours would be right.
    /// A site-wide cookie has the `__Host-` prefix, which browsers never let anyone plant.
    pub(crate) fn token<'a>(&self, headers: &'a HeaderMap) -> Option<Result<&'a str, AuthError>> {
        let mut values = self.values(headers);
        let first = values.next()?;
        let second = values.next();
        Some(self.csrf.check(headers).and_then(|()| {
            if second.is_some() {
                return Err(DUPLICATE_REFRESH_COOKIE);
            }
            if first.len() > MAX_TOKEN_LEN {
                return Err(TOKEN_TOO_LONG);
            }
            // The client's fault: a fixed refusal.
            std::str::from_utf8(first).map_err(|_| MALFORMED)
        }))
    }

    /// The non-empty values of the cookie over every `Cookie` header (HTTP/2 sends one
    /// per cookie).
    fn values<'a>(&self, headers: &'a HeaderMap) -> impl Iterator<Item = &'a [u8]> + use<'a, '_> {
        let name = self.name.as_bytes();
        headers
            .get_all(COOKIE)
            .iter()
            .flat_map(|header| header.as_bytes().split(|&b| b == b';'))
            .filter_map(move |pair| {
                let pair = pair.trim_ascii();
                let at = pair.iter().position(|&b| b == b'=')?;
                (&pair[..at] == name).then(|| unquote(&pair[at + 1..]))
            })
            .filter(|value| !value.is_empty())
    }
}

/// RFC 6265 §4.1.1 allows a cookie value in double quotes.
fn unquote(value: &[u8]) -> &[u8] {
    match value {
        [b'"', inner @ .., b'"'] => inner,
        _ => value,
    }
}

/// An RFC 9110 token: what a cookie name may be (RFC 6265 §4.1.1).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(config: RefreshCookie) -> CookieTransport {
        let config = config.allowed_origin("https://app.example");
        config.check("/sessions/refresh").unwrap();
        CookieTransport::new(config, "/sessions/refresh")
    }

    #[test]
    fn set_and_clear_carry_every_attribute() {
        let cookie = transport(RefreshCookie::new());
        assert_eq!(
            cookie.set("a.b.c", 60).unwrap(),
            "refresh_token=a.b.c; Max-Age=60; Path=/sessions/refresh; HttpOnly; Secure; SameSite=Strict"
        );
        assert_eq!(
            cookie.clear(),
            "refresh_token=; Max-Age=0; Path=/sessions/refresh; HttpOnly; Secure; SameSite=Strict"
        );
        let site_wide = transport(RefreshCookie::new().site_wide());
        assert!(
            site_wide
                .clear()
                .to_str()
                .unwrap()
                .starts_with("__Host-refresh_token=; Max-Age=0; Path=/;")
        );
    }

    #[test]
    fn names_are_checked() {
        let build = |config: RefreshCookie| config.allowed_origin("https://a.example").check("/r");
        assert_eq!(
            build(RefreshCookie::new().name("__Host-rt")),
            Err(ConfigError::BadCookieName("__Host-rt".into()))
        );
        assert_eq!(
            build(RefreshCookie::new().name("__Host-rt").site_wide()),
            Ok(())
        );
        assert_eq!(
            build(RefreshCookie::new().name("__host-rt")),
            Err(ConfigError::BadCookieName("__host-rt".into()))
        );
        for bad in ["", "a b", "a;b", "a=b", "é"] {
            assert_eq!(
                build(RefreshCookie::new().name(bad)),
                Err(ConfigError::BadCookieName(bad.into())),
                "{bad:?}"
            );
        }
        assert_eq!(
            RefreshCookie::new().check("/r"),
            Err(ConfigError::NoCsrfDefence)
        );
    }

    #[test]
    fn reads_one_value_over_every_cookie_header() {
        let cookie = CookieTransport::new(
            RefreshCookie::new().csrf_header(http::HeaderName::from_static("x-csrf")),
            "/sessions/refresh",
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-csrf", HeaderValue::from_static("1"));
        headers.append(
            COOKIE,
            HeaderValue::from_static("theme=dark; refresh_tokenx=no"),
        );
        assert_eq!(cookie.token(&headers), None);
        headers.append(COOKIE, HeaderValue::from_static("refresh_token=; a=b"));
        assert_eq!(cookie.token(&headers), None);
        headers.append(
            COOKIE,
            HeaderValue::from_static("x=1;refresh_token=\"t.o.k\""),
        );
        assert_eq!(cookie.token(&headers), Some(Ok("t.o.k")));
        // A second value, perhaps planted by a sibling subdomain: neither is taken.
        headers.append(COOKIE, HeaderValue::from_static("refresh_token=other"));
        assert_eq!(cookie.token(&headers), Some(Err(DUPLICATE_REFRESH_COOKIE)));
        // The CSRF check comes first.
        headers.remove("x-csrf");
        assert!(matches!(
            cookie.token(&headers),
            Some(Err(AuthError::CrossSiteRequest(_)))
        ));
    }

    #[test]
    fn the_cookie_is_sensitive() {
        let cookie = transport(RefreshCookie::new());
        let value = cookie.set("secret.token.value", 60).unwrap();
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("secret"));
    }
}
