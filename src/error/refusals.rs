//! Every refusal the crate makes, named once. Descriptions are fixed strings: they never
//! carry a token, a secret or a claim value. Tests compare against these names.

use super::AuthError;

// --- the request ---------------------------------------------------------------------------
pub(crate) const DUPLICATE_AUTHORIZATION: AuthError =
    AuthError::InvalidRequest("more than one Authorization header");
pub(crate) const TOKEN_IN_QUERY: AuthError =
    AuthError::InvalidRequest("tokens are accepted only in the Authorization header");
pub(crate) const EMPTY_BEARER: AuthError =
    AuthError::InvalidRequest("the Bearer credentials carry no token");

// --- the refresh route's standard form (RFC 6749 §6) ---------------------------------------
pub(crate) const FORM_TOO_LARGE: AuthError =
    AuthError::InvalidRequest("the form body is larger than a refresh request needs");
pub(crate) const FORM_UNREADABLE: AuthError =
    AuthError::InvalidRequest("the form body could not be read");
pub(crate) const FORM_MALFORMED: AuthError =
    AuthError::InvalidRequest("the form body is not valid UTF-8 form encoding");
pub(crate) const FORM_REPEATED: AuthError =
    AuthError::InvalidRequest("a form parameter was sent more than once");
pub(crate) const NO_GRANT_TYPE: AuthError =
    AuthError::InvalidRequest("the form names no grant_type");
pub(crate) const NO_REFRESH_TOKEN: AuthError =
    AuthError::InvalidRequest("the form carries no refresh_token");
pub(crate) const UNSUPPORTED_GRANT: AuthError =
    AuthError::UnsupportedGrantType("only the refresh_token grant is supported");

// --- a refresh by cookie (the CSRF defence) -----------------------------------------------
pub(crate) const NO_ORIGIN: AuthError = AuthError::CrossSiteRequest(
    "a refresh by cookie needs an Origin or Referer header, or the anti-CSRF header",
);
pub(crate) const DUPLICATE_REFRESH_COOKIE: AuthError =
    AuthError::InvalidRequest("more than one refresh cookie was sent");
pub(crate) const FOREIGN_ORIGIN: AuthError =
    AuthError::CrossSiteRequest("a refresh by cookie from an origin that is not allowed");

// --- what a check needs, down -------------------------------------------------------------
pub(crate) const BACKEND_UNAVAILABLE: AuthError =
    AuthError::Unavailable("the session store is unavailable, retry later");
pub(crate) const KEYS_UNAVAILABLE: AuthError =
    AuthError::Unavailable("the issuer's keys are not there yet, retry later");

// --- DPoP (RFC 9449) -------------------------------------------------------------------------
pub(crate) const BOUND_AS_BEARER: AuthError =
    AuthError::InvalidDpopToken("the token is bound to a key: send it with DPoP and a proof");
pub(crate) const UNBOUND_AS_DPOP: AuthError =
    AuthError::InvalidDpopToken("the token is not bound to a key");
pub(crate) const DPOP_REQUIRED: AuthError =
    AuthError::InvalidDpopToken("DPoP is required: send the token with DPoP and a proof");
pub(crate) const PROOF_OTHER_KEY: AuthError =
    AuthError::InvalidDpopProof("the DPoP proof is signed by another key than the token's");
pub(crate) const LOGIN_PROOF_REQUIRED: AuthError =
    AuthError::InvalidDpopProof("a DPoP proof is required to sign in");
pub(crate) const PROOF_MISSING: AuthError =
    AuthError::InvalidDpopProof("a DPoP proof by the session's key is required");
pub(crate) const PROOF_REPLAYED: AuthError =
    AuthError::InvalidDpopProof("the DPoP proof was used before");

// --- the token's shape and header ----------------------------------------------------------
pub(crate) const TOKEN_TOO_LONG: AuthError = AuthError::InvalidToken("the token is too long");
pub(crate) const NOT_JWS: AuthError = AuthError::InvalidToken("the token is not a compact JWS");
pub(crate) const MALFORMED: AuthError = AuthError::InvalidToken("the token is malformed");
pub(crate) const UNKNOWN_KEY: AuthError = AuthError::InvalidToken("the token names no key of ours");
pub(crate) const ALGORITHM_REFUSED: AuthError =
    AuthError::InvalidToken("the token algorithm is not accepted");
pub(crate) const CRITICAL_HEADER: AuthError =
    AuthError::InvalidToken("the token has critical header parameters");
pub(crate) const NO_ACCEPTED_TYP: AuthError =
    AuthError::InvalidToken("the token has no accepted typ");
pub(crate) const BAD_SIGNATURE: AuthError =
    AuthError::InvalidToken("the token signature is invalid");

// --- the token's claims --------------------------------------------------------------------
pub(crate) const CLAIMS_MALFORMED: AuthError =
    AuthError::InvalidToken("the token claims are malformed");
pub(crate) const REFRESH_AS_ACCESS: AuthError =
    AuthError::InvalidToken("a refresh token cannot be used as an access token");
pub(crate) const ACCESS_AS_REFRESH: AuthError =
    AuthError::InvalidToken("an access token cannot be used as a refresh token");
pub(crate) const EXPIRED: AuthError = AuthError::InvalidToken("the token has expired");
pub(crate) const NOT_YET_VALID: AuthError = AuthError::InvalidToken("the token is not valid yet");
pub(crate) const ISSUED_IN_FUTURE: AuthError =
    AuthError::InvalidToken("the token was issued in the future");
pub(crate) const DATE_OUT_OF_RANGE: AuthError =
    AuthError::InvalidToken("the token has a date out of range");
pub(crate) const UNKNOWN_ISSUER: AuthError =
    AuthError::InvalidToken("the token's issuer is not one this service accepts");
pub(crate) const OTHER_ISSUER: AuthError =
    AuthError::InvalidToken("the token was issued by another issuer");
pub(crate) const OTHER_AUDIENCE: AuthError =
    AuthError::InvalidToken("the token is meant for another audience");
pub(crate) const MISSING_CLAIM: AuthError =
    AuthError::InvalidToken("the token lacks a required claim");

// --- the session behind the token ----------------------------------------------------------
pub(crate) const SESSION_ENDED: AuthError = AuthError::InvalidToken("the session has ended");
pub(crate) const SESSION_EXPIRED: AuthError = AuthError::InvalidToken("the session has expired");
pub(crate) const SESSION_IDLE: AuthError =
    AuthError::InvalidToken("the session expired after inactivity");
pub(crate) const USER_INACTIVE: AuthError = AuthError::InvalidToken("the user is no longer active");
pub(crate) const TOKEN_REPLACED: AuthError =
    AuthError::InvalidToken("the refresh token has been replaced");
pub(crate) const TOKEN_REUSED: AuthError =
    AuthError::InvalidToken("a retired refresh token was used again; the session has ended");

/// Every refusal with a fixed text, for the renderer to prepare once.
pub(crate) const ALL: [AuthError; 49] = [
    FORM_TOO_LARGE,
    FORM_UNREADABLE,
    FORM_MALFORMED,
    FORM_REPEATED,
    NO_GRANT_TYPE,
    NO_REFRESH_TOKEN,
    UNSUPPORTED_GRANT,
    DUPLICATE_AUTHORIZATION,
    DUPLICATE_REFRESH_COOKIE,
    NO_ORIGIN,
    FOREIGN_ORIGIN,
    TOKEN_IN_QUERY,
    EMPTY_BEARER,
    TOKEN_TOO_LONG,
    NOT_JWS,
    MALFORMED,
    UNKNOWN_KEY,
    ALGORITHM_REFUSED,
    CRITICAL_HEADER,
    NO_ACCEPTED_TYP,
    BAD_SIGNATURE,
    CLAIMS_MALFORMED,
    REFRESH_AS_ACCESS,
    ACCESS_AS_REFRESH,
    EXPIRED,
    NOT_YET_VALID,
    ISSUED_IN_FUTURE,
    DATE_OUT_OF_RANGE,
    UNKNOWN_ISSUER,
    BOUND_AS_BEARER,
    UNBOUND_AS_DPOP,
    DPOP_REQUIRED,
    PROOF_OTHER_KEY,
    LOGIN_PROOF_REQUIRED,
    PROOF_MISSING,
    PROOF_REPLAYED,
    OTHER_ISSUER,
    OTHER_AUDIENCE,
    MISSING_CLAIM,
    SESSION_ENDED,
    SESSION_EXPIRED,
    SESSION_IDLE,
    USER_INACTIVE,
    TOKEN_REPLACED,
    TOKEN_REUSED,
    // Not named above, but answered as often.
    AuthError::MissingCredentials,
    BACKEND_UNAVAILABLE,
    KEYS_UNAVAILABLE,
    AuthError::MethodNotAllowed,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_says_one_thing_in_a_header_safe_way() {
        let mut seen = std::collections::HashSet::new();
        for err in &ALL {
            let description = err.description();
            assert!(seen.insert(description), "said twice: {description}");
            // Goes verbatim into `WWW-Authenticate` and `grpc-message`.
            assert!(
                description
                    .bytes()
                    .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'),
                "{description}"
            );
        }
    }
}
