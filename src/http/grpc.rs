//! gRPC-native refusals: a gRPC client cannot read an HTTP 401, so requests with
//! `content-type: application/grpc*` are refused the gRPC way, as a trailers-only response:
//! HTTP 200 with `grpc-status` and `grpc-message` headers.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Response};

use crate::error::AuthError;

/// `UNAUTHENTICATED`
const UNAUTHENTICATED: &str = "16";
/// `PERMISSION_DENIED`
const PERMISSION_DENIED: &str = "7";
/// `UNAVAILABLE`
const UNAVAILABLE: &str = "14";
/// `UNIMPLEMENTED`
const UNIMPLEMENTED: &str = "12";

pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// The gRPC status code an error maps to.
pub(crate) fn status_code(err: &AuthError) -> &'static str {
    match err {
        AuthError::MissingCredentials
        | AuthError::InvalidToken(_)
        | AuthError::InvalidRequest(_)
        | AuthError::UnsupportedGrantType(_)
        | AuthError::InvalidDpopProof(_)
        | AuthError::UseDpopNonce(_)
        | AuthError::InvalidDpopToken(_)
        | AuthError::InsufficientUserAuthentication { .. } => UNAUTHENTICATED,
        AuthError::InsufficientScope(_) | AuthError::CrossSiteRequest(_) => PERMISSION_DENIED,
        AuthError::Unavailable(_) => UNAVAILABLE,
        AuthError::MethodNotAllowed => UNIMPLEMENTED,
    }
}

pub(crate) fn response(err: &AuthError) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    // A refusal is about this request and this token: no cache may keep it.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("grpc-status", HeaderValue::from_static(status_code(err)));
    if let Ok(message) = HeaderValue::from_str(&percent_encode(&err.to_string())) {
        headers.insert("grpc-message", message);
    }
    if let AuthError::UseDpopNonce(nonce) = err
        && let Ok(nonce) = HeaderValue::from_str(nonce)
    {
        headers.insert("dpop-nonce", nonce);
    }
    response
}

/// gRPC's `Percent-Encoded` (PROTOCOL-HTTP2.md): printable ASCII except `%` stays.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_errors_to_grpc_statuses() {
        let res = response(&AuthError::InvalidToken("the token has expired"));
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["grpc-status"], "16");
        assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(
            res.headers()["grpc-message"],
            "invalid_token: the token has expired"
        );
        assert_eq!(status_code(&AuthError::MissingCredentials), "16");
        assert_eq!(status_code(&AuthError::insufficient_scope("write")), "7");
        assert_eq!(
            status_code(&crate::error::refusals::BACKEND_UNAVAILABLE),
            "14"
        );
    }

    #[test]
    fn percent_encodes() {
        assert_eq!(percent_encode("a%b\u{e9}\n"), "a%25b%C3%A9%0A");
    }

    #[test]
    fn detects_grpc() {
        let mut headers = HeaderMap::new();
        assert!(!is_grpc(&headers));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/grpc+proto"),
        );
        assert!(is_grpc(&headers));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!is_grpc(&headers));
    }
}
