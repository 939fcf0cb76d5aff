//! What an introspection answer means (RFC 7662 §2.2): inactive, or the claims of an active
//! token once they pass the checks a JWT's would.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::AuthError;
use crate::error::refusals::{CLAIMS_MALFORMED, INACTIVE, OTHER_AUDIENCE, OTHER_ISSUER};
use crate::token::{AccessClaims, Audience, Confirmation, check_dates};

/// What the claims are checked against.
pub(super) struct Rules<'a> {
    /// The issuer's identifier: a present `iss` must be it.
    pub(super) issuer: Option<&'a str>,
    /// This resource: a present `aud` must name it.
    pub(super) audience: Option<&'a str>,
    pub(super) leeway: u64,
    pub(super) now: u64,
}

/// The registered claims an answer may carry (RFC 7662 §2.2), each optional. Only
/// `active: true` is active: `false`, a missing member or any other value is not.
#[derive(Deserialize)]
struct Registered {
    #[serde(default)]
    active: Option<serde_json::Value>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    sid: Option<String>,
    #[serde(default)]
    exp: Option<u64>,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    nbf: Option<u64>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    cnf: Option<Confirmation>,
}

/// `active` alone, to tell an inactive answer from an active one with malformed claims.
#[derive(Deserialize)]
struct Active {
    #[serde(default)]
    active: Option<serde_json::Value>,
}

fn is_active(active: &Option<serde_json::Value>) -> bool {
    *active == Some(serde_json::Value::Bool(true))
}

/// The claims of an active token, and its `exp` if the answer gives one; a refusal (401)
/// for an inactive token or one whose claims fail a check. `answer` is a JSON object (the
/// call checked); `until` stands in for a missing `exp` (when the answer stops being trusted).
pub(super) fn claims<C: DeserializeOwned>(
    answer: &[u8],
    rules: &Rules<'_>,
    until: u64,
) -> Result<(AccessClaims<C>, Option<u64>), AuthError> {
    // Fixed texts: serde's errors quote claim values.
    let claims: Registered = match serde_json::from_slice(answer) {
        Ok(claims) => claims,
        Err(_) => {
            let active: Option<Active> = serde_json::from_slice(answer).ok();
            return Err(match active {
                Some(active) if is_active(&active.active) => CLAIMS_MALFORMED,
                _ => INACTIVE,
            });
        }
    };
    if !is_active(&claims.active) {
        return Err(INACTIVE);
    }
    check_dates(claims.exp, claims.iat, claims.nbf, rules.leeway, rules.now)?;
    if let (Some(iss), Some(expected)) = (&claims.iss, rules.issuer)
        && iss != expected
    {
        return Err(OTHER_ISSUER);
    }
    if let (Some(aud), Some(expected)) = (&claims.aud, rules.audience)
        && !aud.contains(expected)
    {
        return Err(OTHER_AUDIENCE);
    }
    let custom = serde_json::from_slice(answer).map_err(|_| CLAIMS_MALFORMED)?;
    let exp = claims.exp;
    Ok((
        AccessClaims {
            // A client-credentials token has no subject: empty, not a refusal.
            sub: claims.sub.unwrap_or_default(),
            sid: claims.sid,
            iat: claims.iat.unwrap_or(0),
            exp: exp.unwrap_or(until),
            nbf: claims.nbf,
            iss: claims.iss,
            aud: claims.aud,
            token_use: None,
            cnf: claims.cnf,
            custom,
        },
        exp,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::refusals::{DATE_OUT_OF_RANGE, EXPIRED, ISSUED_IN_FUTURE, NOT_YET_VALID};

    const RULES: Rules<'static> = Rules {
        issuer: Some("https://as.example"),
        audience: Some("https://api.example"),
        leeway: 5,
        now: 1_000_000,
    };

    fn check(
        answer: serde_json::Value,
    ) -> Result<(AccessClaims<serde_json::Value>, Option<u64>), AuthError> {
        claims(answer.to_string().as_bytes(), &RULES, 2_000_000)
    }

    #[test]
    fn only_active_true_is_active() {
        for answer in [
            serde_json::json!({"active": false, "sub": "u"}),
            serde_json::json!({"sub": "u"}),
            serde_json::json!({"active": "true"}),
            serde_json::json!({"active": 1}),
            serde_json::json!({"active": null}),
            // Claims that would not parse do not make an inactive answer anything else.
            serde_json::json!({"active": false, "exp": "soon"}),
        ] {
            assert_eq!(check(answer).err(), Some(INACTIVE));
        }
        let (claims, exp) = check(serde_json::json!({"active": true})).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.exp, exp),
            ("", 2_000_000, None)
        );
    }

    #[test]
    fn claims_are_checked_as_a_jwts_are() {
        let active = |extra: serde_json::Value| {
            let mut answer = serde_json::json!({"active": true, "sub": "u"});
            answer
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            check(answer).err()
        };
        assert_eq!(active(serde_json::json!({"exp": 999_994})), Some(EXPIRED));
        assert_eq!(active(serde_json::json!({"exp": 999_995})), None);
        assert_eq!(
            active(serde_json::json!({"nbf": 1_000_006})),
            Some(NOT_YET_VALID)
        );
        assert_eq!(active(serde_json::json!({"nbf": 1_000_005})), None);
        assert_eq!(
            active(serde_json::json!({"iat": 1_000_006})),
            Some(ISSUED_IN_FUTURE)
        );
        assert_eq!(
            active(serde_json::json!({"iss": "https://other.example"})),
            Some(OTHER_ISSUER)
        );
        assert_eq!(
            active(serde_json::json!({"iss": "https://as.example"})),
            None
        );
        assert_eq!(
            active(serde_json::json!({"aud": ["a", "b"]})),
            Some(OTHER_AUDIENCE)
        );
        assert_eq!(
            active(serde_json::json!({"aud": ["a", "https://api.example"]})),
            None
        );
        assert_eq!(
            active(serde_json::json!({"aud": "https://api.example"})),
            None
        );
        assert_eq!(
            active(serde_json::json!({"exp": "soon"})),
            Some(CLAIMS_MALFORMED)
        );
        assert_eq!(
            active(serde_json::json!({"exp": 300_000_000_000u64})),
            Some(DATE_OUT_OF_RANGE)
        );
    }

    #[test]
    fn a_cnf_binds_and_the_apps_claims_are_read() {
        let (claims, exp) = check(serde_json::json!({
            "active": true, "exp": 1_000_100, "cnf": {"jkt": "thumb"}, "scope": "a b"
        }))
        .unwrap();
        assert_eq!(exp, Some(1_000_100));
        assert_eq!(claims.cnf.unwrap().jkt, "thumb");
        assert_eq!(claims.custom["scope"], "a b");
    }
}
