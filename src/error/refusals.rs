//! Every refusal the crate makes with a fixed text, named once, in one table: the macro
//! below declares each as a constant and lists them all in [`ALL`], so that the tests of
//! this file (each text said once, header-safe) and the renderer's prepared answers cover
//! every one. Descriptions are fixed strings: they never carry a token, a secret or a claim
//! value. Tests compare against these names.

use super::AuthError;

/// `NAME = Variant("text"),` for each refusal: the constants, and [`ALL`].
macro_rules! refusals {
    ($($name:ident = $variant:ident($text:literal),)*) => {
        $(pub(crate) const $name: AuthError = AuthError::$variant($text);)*

        /// Every refusal with a fixed text, for the renderer to prepare once and the tests
        /// to check, and the two without a text.
        pub(crate) const ALL: &[AuthError] = &[
            $($name,)*
            AuthError::MissingCredentials,
            AuthError::MethodNotAllowed,
        ];
    };
}

refusals! {
    // --- the request --------------------------------------------------------------------
    DUPLICATE_AUTHORIZATION = InvalidRequest("more than one Authorization header"),
    TOKEN_IN_QUERY = InvalidRequest("tokens are accepted only in the Authorization header"),
    EMPTY_BEARER = InvalidRequest("the Bearer credentials carry no token"),
    // --- the refresh route's standard form (RFC 6749 §6) --------------------------------
    FORM_TOO_LARGE = InvalidRequest("the form body is larger than a refresh request needs"),
    FORM_UNREADABLE = InvalidRequest("the form body could not be read"),
    FORM_MALFORMED = InvalidRequest("the form body is not valid UTF-8 form encoding"),
    FORM_REPEATED = InvalidRequest("a form parameter was sent more than once"),
    NO_GRANT_TYPE = InvalidRequest("the form names no grant_type"),
    NO_REFRESH_TOKEN = InvalidRequest("the form carries no refresh_token"),
    UNSUPPORTED_GRANT = UnsupportedGrantType("only the refresh_token grant is supported"),
    // --- a refresh by cookie (the CSRF defence) -----------------------------------------
    NO_ORIGIN = CrossSiteRequest(
        "a refresh by cookie needs an Origin or Referer header, or the anti-CSRF header"
    ),
    DUPLICATE_REFRESH_COOKIE = InvalidRequest("more than one refresh cookie was sent"),
    FOREIGN_ORIGIN = CrossSiteRequest("a refresh by cookie from an origin that is not allowed"),
    // --- what a check needs, down -------------------------------------------------------
    BACKEND_UNAVAILABLE = Unavailable("the session backend is unavailable, retry later"),
    // Signing a token or writing a cookie failed: a fault of this server, not of its backend.
    SERVER_FAULT = Unavailable("the server could not complete the refresh, retry later"),
    KEYS_UNAVAILABLE = Unavailable("the issuer's keys are not there yet, retry later"),
    // --- DPoP (RFC 9449) ----------------------------------------------------------------
    BOUND_AS_BEARER = InvalidDpopToken("the token is bound to a key: send it with DPoP and a proof"),
    UNBOUND_AS_DPOP = InvalidDpopToken("the token is not bound to a key"),
    DPOP_REQUIRED = InvalidDpopToken("DPoP is required: send the token with DPoP and a proof"),
    PROOF_OTHER_KEY = InvalidDpopProof("the DPoP proof is signed by another key than the token's"),
    LOGIN_PROOF_REQUIRED = InvalidDpopProof("a DPoP proof is required to sign in"),
    PROOF_MISSING = InvalidDpopProof("a DPoP proof by the session's key is required"),
    PROOF_REPLAYED = InvalidDpopProof("the DPoP proof was used before"),
    // --- a DPoP proof (RFC 9449 §4.3), one text per check -------------------------------
    PROOF_COUNT = InvalidDpopProof("exactly one DPoP header is required"),
    PROOF_MALFORMED = InvalidDpopProof("the DPoP proof is malformed"),
    PROOF_NOT_JWS = InvalidDpopProof("the DPoP proof is not a compact JWS"),
    PROOF_TYP = InvalidDpopProof("the DPoP proof's typ is not dpop+jwt"),
    PROOF_CRIT = InvalidDpopProof("the DPoP proof has a crit header"),
    PROOF_ALGORITHM = InvalidDpopProof("the DPoP proof's algorithm is not accepted"),
    PROOF_NO_JWK = InvalidDpopProof("the DPoP proof has no jwk header"),
    PROOF_PRIVATE_KEY = InvalidDpopProof("the DPoP proof's jwk holds a private key"),
    PROOF_NOT_PUBLIC_KEY = InvalidDpopProof("the DPoP proof's jwk is not a public key"),
    PROOF_KEY_MISFIT = InvalidDpopProof("the DPoP proof's jwk does not fit its algorithm"),
    PROOF_SIGNATURE = InvalidDpopProof("the DPoP proof's signature is invalid"),
    PROOF_JTI = InvalidDpopProof("the DPoP proof has no usable jti"),
    PROOF_HTM = InvalidDpopProof("the DPoP proof's htm is not this request's method"),
    PROOF_HTU = InvalidDpopProof("the DPoP proof's htu is not this request's URL"),
    PROOF_NO_IAT = InvalidDpopProof("the DPoP proof has no iat"),
    PROOF_IAT = InvalidDpopProof("the DPoP proof is too old or from the future"),
    PROOF_ATH = InvalidDpopProof("the DPoP proof's ath is not the access token's hash"),

    // --- the token's shape and header ---------------------------------------------------
    TOKEN_TOO_LONG = InvalidToken("the token is too long"),
    NOT_JWS = InvalidToken("the token is not a compact JWS"),
    MALFORMED = InvalidToken("the token is malformed"),
    UNKNOWN_KEY = InvalidToken("the token names no key of ours"),
    ALGORITHM_REFUSED = InvalidToken("the token algorithm is not accepted"),
    CRITICAL_HEADER = InvalidToken("the token has critical header parameters"),
    NO_ACCEPTED_TYP = InvalidToken("the token has no accepted typ"),
    BAD_SIGNATURE = InvalidToken("the token signature is invalid"),
    // --- the token's claims -------------------------------------------------------------
    CLAIMS_MALFORMED = InvalidToken("the token claims are malformed"),
    REFRESH_AS_ACCESS = InvalidToken("a refresh token cannot be used as an access token"),
    ACCESS_AS_REFRESH = InvalidToken("an access token cannot be used as a refresh token"),
    EXPIRED = InvalidToken("the token has expired"),
    NOT_YET_VALID = InvalidToken("the token is not valid yet"),
    ISSUED_IN_FUTURE = InvalidToken("the token was issued in the future"),
    DATE_OUT_OF_RANGE = InvalidToken("the token has a date out of range"),
    UNKNOWN_ISSUER = InvalidToken("the token's issuer is not one this service accepts"),
    OTHER_ISSUER = InvalidToken("the token was issued by another issuer"),
    OTHER_AUDIENCE = InvalidToken("the token is meant for another audience"),
    MISSING_CLAIM = InvalidToken("the token lacks a required claim"),
    // --- an introspected token (RFC 7662) -----------------------------------------------
    INACTIVE = InvalidToken("the issuer says the token is not active"),
    INTROSPECTION_UNAVAILABLE = Unavailable("the issuer could not be asked about the token, retry later"),
    // --- the session behind the token ---------------------------------------------------
    SESSION_ENDED = InvalidToken("the session has ended"),
    SESSION_EXPIRED = InvalidToken("the session has expired"),
    SESSION_IDLE = InvalidToken("the session expired after inactivity"),
    USER_INACTIVE = InvalidToken("the user is no longer active"),
    TOKEN_REPLACED = InvalidToken("the refresh token has been replaced"),
    TOKEN_REUSED = InvalidToken("a retired refresh token was used again; the session has ended"),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_says_one_thing_in_a_header_safe_way() {
        let mut seen = std::collections::HashSet::new();
        for err in ALL {
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
