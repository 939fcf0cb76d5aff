//! Reading `Authorization: Bearer <token>` (RFC 6750 §2.1, RFC 9110 §11).

use http::header::AUTHORIZATION;
use http::{HeaderMap, Uri};

use crate::dpop::TokenType;
use crate::error::AuthError;
use crate::error::refusals::{
    DUPLICATE_AUTHORIZATION, EMPTY_BEARER, MALFORMED, TOKEN_IN_QUERY, TOKEN_TOO_LONG,
};
use crate::token::MAX_TOKEN_LEN;

/// Finds the Bearer token of a request.
///
/// `Ok(None)` means the request carried no Bearer credentials at all (no header, or another
/// scheme such as `Basic`): RFC 6750 §3.1 answers that with a bare challenge.
pub(crate) fn bearer_token<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
) -> Result<Option<&'a str>, AuthError> {
    credentials(headers, uri, false)?
        .map(|(_, token)| token.as_str())
        .transpose()
}

/// A token as the request carried it: its bytes, read as text only where it is needed. A
/// token served from the thread's own cache never is: its bytes matched, one for one, those
/// of a token that passed every check (`token_bytes` in `benches/README.md`).
#[derive(Clone, Copy)]
pub(crate) struct RawToken<'a>(&'a [u8]);

impl<'a> From<&'a str> for RawToken<'a> {
    fn from(token: &'a str) -> Self {
        RawToken(token.as_bytes())
    }
}

impl<'a> RawToken<'a> {
    pub(crate) fn bytes(self) -> &'a [u8] {
        self.0
    }

    /// The token as text. Not UTF-8 is the client's fault: a fixed refusal, never the bytes.
    pub(crate) fn as_str(self) -> Result<&'a str, AuthError> {
        std::str::from_utf8(self.0).map_err(|_| MALFORMED)
    }
}

/// [`bearer_token`], and also `Authorization: DPoP <token>` when `dpop` is on; otherwise a
/// DPoP scheme is another scheme (no credentials).
pub(crate) fn credentials<'a>(
    headers: &'a HeaderMap,
    uri: &Uri,
    dpop: bool,
) -> Result<Option<(TokenType, RawToken<'a>)>, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(DUPLICATE_AUTHORIZATION);
    }
    // RFC 6750 §2.3 allows `access_token` in the query; we never accept it there, and a
    // token in two places at once is a malformed request (§2).
    if uri.query().is_some_and(query_has_access_token) {
        return Err(TOKEN_IN_QUERY);
    }
    let Some(value) = first else {
        return Ok(None);
    };
    if let Some(token) = parse_scheme(value.as_bytes(), b"bearer")? {
        return Ok(Some((TokenType::Bearer, token)));
    }
    if dpop {
        return Ok(parse_scheme(value.as_bytes(), b"dpop")?.map(|token| (TokenType::Dpop, token)));
    }
    Ok(None)
}

fn query_has_access_token(query: &str) -> bool {
    query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("access_token"))
}

/// Parses one `Authorization` value of `scheme` (lower case). The scheme is
/// case-insensitive; one or more spaces separate it from a token68.
fn parse_scheme<'a>(value: &'a [u8], scheme: &[u8]) -> Result<Option<RawToken<'a>>, AuthError> {
    let trimmed = value.trim_ascii();
    if trimmed.len() < scheme.len() || !trimmed[..scheme.len()].eq_ignore_ascii_case(scheme) {
        return Ok(None);
    }
    let rest = &trimmed[scheme.len()..];
    if rest.is_empty() {
        return Err(EMPTY_BEARER);
    }
    if rest[0] != b' ' {
        // `BearerX...` is another scheme, not a malformed Bearer.
        return Ok(None);
    }
    let token = rest.trim_ascii_start();
    if token.is_empty() {
        return Err(EMPTY_BEARER);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(TOKEN_TOO_LONG);
    }
    // The character set is checked where the token is parsed as a JWS (base64url segments
    // only, stricter than token68), and only when the verified-token cache misses: a token
    // that hits is byte-identical to one that passed every check.
    Ok(Some(RawToken(token)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn parse(v: &str) -> Result<Option<&str>, AuthError> {
        parse_scheme(v.as_bytes(), b"bearer")?
            .map(RawToken::as_str)
            .transpose()
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(parse("Bearer abc.def.ghi"), Ok(Some("abc.def.ghi")));
        assert_eq!(parse("bearer abc"), Ok(Some("abc")));
        assert_eq!(parse("BEARER   abc"), Ok(Some("abc")));
    }

    #[test]
    fn other_schemes_are_no_credentials() {
        assert_eq!(parse("Basic dXNlcjpwYXNz"), Ok(None));
        assert_eq!(parse("Bearerabc"), Ok(None));
        assert_eq!(parse("abc"), Ok(None));
        assert_eq!(parse(""), Ok(None));
    }

    #[test]
    fn empty_token_is_invalid_request() {
        assert!(matches!(parse("Bearer"), Err(AuthError::InvalidRequest(_))));
        assert!(matches!(
            parse("Bearer   "),
            Err(AuthError::InvalidRequest(_))
        ));
    }

    #[test]
    fn malformed_tokens_are_invalid_token() {
        let raw = parse_scheme(b"Bearer \xff\xfe", b"bearer")
            .unwrap()
            .unwrap();
        assert_eq!(raw.bytes(), b"\xff\xfe");
        assert!(matches!(raw.as_str(), Err(AuthError::InvalidToken(_))));
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        assert!(matches!(parse(&long), Err(AuthError::InvalidToken(_))));
    }

    #[test]
    fn duplicate_headers_and_query_tokens_are_invalid_requests() {
        let mut headers = HeaderMap::new();
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        let uri: Uri = "/x".parse().unwrap();
        assert!(matches!(
            bearer_token(&headers, &uri),
            Err(AuthError::InvalidRequest(_))
        ));

        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        let uri: Uri = "/x?a=1&access_token=b".parse().unwrap();
        assert!(matches!(
            bearer_token(&headers, &uri),
            Err(AuthError::InvalidRequest(_))
        ));
        let uri: Uri = "/x?not_access_token=b".parse().unwrap();
        assert_eq!(bearer_token(&headers, &uri), Ok(Some("a")));
    }
}
