//! The cross-site request forgery check of a refresh by cookie: cookies ride along with any
//! request to the site, so the request must also show it comes from one of our pages.

use http::header::{ORIGIN, REFERER};
use http::{HeaderMap, HeaderName};

use crate::error::refusals::{FOREIGN_ORIGIN, NO_ORIGIN};
use crate::error::{AuthError, ConfigError};
use crate::well_known::origin_of;

#[derive(Debug)]
pub(super) struct Csrf {
    /// Serialized origins, lowercase and without a default port: `https://app.example`.
    origins: Vec<String>,
    header: Option<HeaderName>,
}

impl Csrf {
    /// Whether the allowed origins and the custom header make a defence: at least one of
    /// them, each origin `http(s)://host[:port]`, and a header that browsers never send by
    /// themselves.
    pub(super) fn check_config(
        origins: &[String],
        header: Option<&HeaderName>,
    ) -> Result<(), ConfigError> {
        if origins.is_empty() && header.is_none() {
            return Err(ConfigError::NoCsrfDefence);
        }
        if let Some(header) = header.filter(|h| browsers_send(h.as_str())) {
            return Err(ConfigError::BadCsrfHeader(header.as_str().to_owned()));
        }
        match origins
            .iter()
            .find(|origin| origin_of(origin, false).is_none())
        {
            Some(origin) => Err(ConfigError::BadOrigin(origin.clone())),
            None => Ok(()),
        }
    }

    /// The defence of origins and a header that passed [`check_config`](Self::check_config).
    pub(super) fn new(origins: &[String], header: Option<HeaderName>) -> Self {
        Csrf {
            origins: origins
                .iter()
                .filter_map(|origin| origin_of(origin, false))
                .collect(),
            header,
        }
    }

    /// The custom header admits the request; else its `Origin` (browsers send one with every
    /// `POST`), else its `Referer`, must be an allowed origin.
    pub(super) fn check(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        if self
            .header
            .as_ref()
            .is_some_and(|h| headers.contains_key(h))
        {
            return Ok(());
        }
        let (name, path_allowed) = if headers.contains_key(ORIGIN) {
            (ORIGIN, false)
        } else if headers.contains_key(REFERER) {
            (REFERER, true)
        } else {
            return Err(NO_ORIGIN);
        };
        let mut values = headers.get_all(name).iter();
        let origin = match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok().and_then(|v| origin_of(v, path_allowed)),
            // Two origins is not one of ours.
            _ => None,
        };
        match origin {
            Some(origin) if self.origins.contains(&origin) => Ok(()),
            // Includes `Origin: null` (sandboxed frames, some redirects).
            _ => Err(FOREIGN_ORIGIN),
        }
    }
}

/// Whether a browser may send this header on a cross-site form or simple request by itself
/// (the CORS-safelisted and forbidden request headers of the Fetch standard): such a header
/// proves nothing about the page that sent the request.
fn browsers_send(name: &str) -> bool {
    const SENT: [&str; 22] = [
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "authorization",
        "connection",
        "content-language",
        "content-length",
        "content-type",
        "cookie",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "range",
        "referer",
        "te",
        "upgrade",
        "user-agent",
        "via",
    ];
    // `HeaderName`s are lowercase.
    SENT.contains(&name) || name.starts_with("sec-") || name.starts_with("proxy-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn csrf() -> Csrf {
        let origins = [
            "https://App.Example:443/".to_owned(),
            "http://localhost:5173".to_owned(),
        ];
        let header = HeaderName::from_static("x-requested-with");
        Csrf::check_config(&origins, Some(&header)).unwrap();
        Csrf::new(&origins, Some(header))
    }

    fn check(pairs: &[(HeaderName, &'static str)]) -> Result<(), AuthError> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name.clone(), HeaderValue::from_static(value));
        }
        csrf().check(&headers)
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            origin_of("HTTPS://App.Example:443", false).as_deref(),
            Some("https://app.example")
        );
        assert_eq!(
            origin_of("http://[::1]:8080", false).as_deref(),
            Some("http://[::1]:8080")
        );
        for bad in [
            "app.example",
            "ftp://a.example",
            "https://a.example/x",
            "https://u@a.example",
            "null",
            "",
        ] {
            assert_eq!(origin_of(bad, false), None, "{bad}");
        }
        assert_eq!(
            origin_of("https://u@a.example/page?q=1", true).as_deref(),
            Some("https://a.example")
        );
        assert_eq!(
            Csrf::check_config(&["https://a.example/path".to_owned()], None),
            Err(ConfigError::BadOrigin("https://a.example/path".into()))
        );
        for sent in [
            "content-type",
            "cookie",
            "origin",
            "sec-fetch-site",
            "accept",
        ] {
            assert_eq!(
                Csrf::check_config(&[], Some(&HeaderName::from_static(sent))),
                Err(ConfigError::BadCsrfHeader(sent.to_owned())),
                "{sent}"
            );
        }
    }

    #[test]
    fn allowed_origin_referer_or_header() {
        assert_eq!(check(&[(ORIGIN, "https://app.example")]), Ok(()));
        assert_eq!(check(&[(ORIGIN, "http://localhost:5173")]), Ok(()));
        assert_eq!(check(&[(REFERER, "https://app.example/login")]), Ok(()));
        assert_eq!(
            check(&[
                (ORIGIN, "https://evil.example"),
                (HeaderName::from_static("x-requested-with"), "x")
            ]),
            Ok(())
        );
    }

    #[test]
    fn missing_foreign_or_ambiguous_origins_are_refused() {
        assert_eq!(check(&[]), Err(NO_ORIGIN));
        assert_eq!(
            check(&[(ORIGIN, "https://evil.example")]),
            Err(FOREIGN_ORIGIN)
        );
        assert_eq!(check(&[(ORIGIN, "null")]), Err(FOREIGN_ORIGIN));
        assert_eq!(
            check(&[(ORIGIN, "https://app.example.evil")]),
            Err(FOREIGN_ORIGIN)
        );
        assert_eq!(
            check(&[(ORIGIN, "http://app.example")]),
            Err(FOREIGN_ORIGIN)
        );
        // The Origin decides even when the Referer would pass.
        assert_eq!(
            check(&[
                (ORIGIN, "https://evil.example"),
                (REFERER, "https://app.example/")
            ]),
            Err(FOREIGN_ORIGIN)
        );
        assert_eq!(
            check(&[
                (ORIGIN, "https://app.example"),
                (ORIGIN, "https://app.example")
            ]),
            Err(FOREIGN_ORIGIN)
        );
        assert_eq!(
            check(&[(REFERER, "https://evil.example/https://app.example")]),
            Err(FOREIGN_ORIGIN)
        );
    }
}
