//! Which requests the layer answers itself, which it lets through, and which need a token.

use http::header::{ACCESS_CONTROL_REQUEST_METHOD, ORIGIN};
use http::{Method, Request};

use crate::error::ConfigError;

/// What the layer does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// The refresh route: answered by the layer, never reaches the app.
    Refresh,
    /// The JWKS document, when configured: answered by the layer.
    Jwks,
    /// The issuer's RFC 8414 metadata, when served: answered by the layer.
    IssuerMetadata,
    /// Declared public: passes through untouched.
    Public,
    /// Needs a valid access token (or none, in optional mode).
    Protected,
}

#[derive(Debug, Clone)]
pub(crate) struct PublicRoute {
    method: Option<Method>,
    path: String,
    prefix: bool,
}

impl PublicRoute {
    pub(crate) fn exact(method: Option<Method>, path: String) -> Self {
        PublicRoute {
            method,
            path,
            prefix: false,
        }
    }

    pub(crate) fn prefix(path: String) -> Self {
        PublicRoute {
            method: None,
            path,
            prefix: true,
        }
    }

    /// The path as given, for [`check_paths`].
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        if self.method.as_ref().is_some_and(|m| m != method) {
            return false;
        }
        if self.prefix {
            // Whole segments: `/static` covers `/static` and `/static/app.js`, never
            // `/staticfoo`. The prefix is stored without its trailing slash.
            self.path == "/"
                || path
                    .strip_prefix(self.path.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        } else {
            path == self.path
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Routes {
    refresh: String,
    jwks: Option<String>,
    metadata: Option<String>,
    public: Vec<PublicRoute>,
}

/// Every route path must start with `/`: anything else names no request path.
pub(crate) fn check_paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> Result<(), ConfigError> {
    match paths.into_iter().find(|path| !path.starts_with('/')) {
        Some(path) => Err(ConfigError::BadPath(path.to_owned())),
        None => Ok(()),
    }
}

/// `/a/b/` and `/a/b` are one route; `/` stays `/`.
pub(crate) fn trim_slash(path: &str) -> &str {
    if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    }
}

impl Routes {
    /// The routes of paths that passed [`check_paths`].
    pub(crate) fn new(refresh: &str, jwks: Option<&str>, public: Vec<PublicRoute>) -> Self {
        let public = public
            .into_iter()
            .map(|mut r| {
                r.path = trim_slash(&r.path).to_owned();
                r
            })
            .collect();
        Routes {
            refresh: trim_slash(refresh).to_owned(),
            jwks: jwks.map(|p| trim_slash(p).to_owned()),
            metadata: None,
            public,
        }
    }

    /// Also answers the issuer's metadata document at `path`.
    pub(crate) fn with_metadata(mut self, path: Option<&str>) -> Self {
        self.metadata = path.map(|p| trim_slash(p).to_owned());
        self
    }

    /// Public routes only, no refresh or JWKS route (a verify-only layer).
    #[cfg(feature = "jwks")]
    pub(crate) fn public_only(public: Vec<PublicRoute>) -> Self {
        let mut routes = Routes::new("/", None, public);
        // No request path is empty, so this never matches.
        routes.refresh = String::new();
        routes
    }

    /// The refresh route's path, without a trailing slash.
    pub(crate) fn refresh_path(&self) -> &str {
        &self.refresh
    }

    /// [`classify`](Self::classify), except that a CORS preflight is public wherever it goes.
    ///
    /// A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`, Fetch
    /// standard §4.8) never carries credentials, so refusing it would only hide the route
    /// from every cross-origin page; it passes on, without claims, for a CORS layer inside
    /// or outside this one to answer.
    pub(crate) fn classify_request<B>(&self, req: &Request<B>) -> Route {
        let headers = req.headers();
        if req.method() == Method::OPTIONS
            && headers.contains_key(ORIGIN)
            && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
        {
            return Route::Public;
        }
        self.classify(req.method(), req.uri().path())
    }

    pub(crate) fn classify(&self, method: &Method, path: &str) -> Route {
        let path = trim_slash(path);
        if path == self.refresh {
            Route::Refresh
        } else if self.jwks.as_deref() == Some(path) {
            Route::Jwks
        } else if self.metadata.as_deref() == Some(path) {
            Route::IssuerMetadata
        } else if self.public.iter().any(|r| r.matches(method, path)) {
            Route::Public
        } else {
            Route::Protected
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify() {
        let routes = Routes::new(
            "/sessions/refresh/",
            Some("/.well-known/jwks.json"),
            vec![
                PublicRoute::exact(None, "/health".into()),
                PublicRoute::exact(Some(Method::POST), "/sessions/".into()),
                PublicRoute::prefix("/static/".into()),
            ],
        );
        assert_eq!(
            routes.classify(&Method::POST, "/sessions/refresh/"),
            Route::Refresh
        );
        assert_eq!(
            routes.classify(&Method::GET, "/sessions/refresh"),
            Route::Refresh
        );
        assert_eq!(routes.classify(&Method::GET, "/health"), Route::Public);
        assert_eq!(
            routes.classify(&Method::GET, "/.well-known/jwks.json"),
            Route::Jwks
        );
        assert_eq!(routes.classify(&Method::GET, "/health/"), Route::Public);
        assert_eq!(routes.classify(&Method::POST, "/sessions"), Route::Public);
        assert_eq!(
            routes.classify(&Method::GET, "/sessions/"),
            Route::Protected
        );
        assert_eq!(
            routes.classify(&Method::GET, "/static/app.js"),
            Route::Public
        );
        assert_eq!(routes.classify(&Method::GET, "/healthz"), Route::Protected);
        // A prefix matches whole segments, with or without its trailing slash.
        assert_eq!(routes.classify(&Method::GET, "/static"), Route::Public);
        assert_eq!(routes.classify(&Method::GET, "/static/"), Route::Public);
        assert_eq!(
            routes.classify(&Method::GET, "/staticfoo"),
            Route::Protected
        );
        assert_eq!(
            routes.classify(&Method::GET, "/static-admin/x"),
            Route::Protected
        );
        assert_eq!(routes.classify(&Method::GET, "/"), Route::Protected);
    }

    #[test]
    fn cors_preflights_are_public_everywhere() {
        let routes = Routes::new("/sessions/refresh/", Some("/jwks"), vec![]);
        let request = |method: Method, path: &str, headers: &[(&str, &str)]| {
            let mut req = Request::builder().method(method).uri(path);
            for (name, value) in headers {
                req = req.header(*name, *value);
            }
            routes.classify_request(&req.body(()).unwrap())
        };
        let preflight = [
            ("origin", "http://127.0.0.1:5173"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "authorization"),
        ];
        for path in ["/me", "/sessions/refresh/", "/sessions/refresh", "/jwks"] {
            assert_eq!(
                request(Method::OPTIONS, path, &preflight),
                Route::Public,
                "{path}"
            );
        }
        // Not a preflight: another method, or a header missing.
        assert_eq!(request(Method::POST, "/me", &preflight), Route::Protected);
        assert_eq!(
            request(Method::OPTIONS, "/me", &preflight[..1]),
            Route::Protected
        );
        assert_eq!(
            request(Method::OPTIONS, "/me", &preflight[1..]),
            Route::Protected
        );
        assert_eq!(
            request(Method::OPTIONS, "/sessions/refresh/", &[]),
            Route::Refresh
        );
    }
}
