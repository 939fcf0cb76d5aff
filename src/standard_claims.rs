//! The claims of an RFC 9068 access token from any issuer, ready to use, and the scopes they
//! grant.

use serde::{Deserialize, Serialize};

/// The claims an RFC 9068 access token carries (§2.2), as any issuer writes them: use it as
/// the claim type of a [`Verifier`](crate::Verifier) when your handlers need nothing else.
/// `scope` holds the `scope` string and the `scp` array (Entra ID, Okta) in one set.
///
/// ```
/// use tower_jwt_sessions::StandardClaims;
/// let claims: StandardClaims = serde_json::from_str(
///     r#"{"sub":"u1","iss":"https://idp.example","aud":"api","client_id":"app","scope":"read write"}"#,
/// )?;
/// assert!(claims.scope.contains("write"));
/// assert_eq!(claims.aud, ["api"]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Wire")]
#[non_exhaustive]
pub struct StandardClaims {
    /// The subject: the user, or the client itself for a client-credentials JWT; `None` when
    /// the token names none (an introspected client-credentials token, RFC 7662 §2.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The audiences (a string or an array on the wire).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aud: Vec<String>,
    /// The client the token was issued to (RFC 8693 §4.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The scopes granted: `scope` and `scp` together.
    #[serde(skip_serializing_if = "Scopes::is_empty")]
    pub scope: Scopes,
    /// The token's unique identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// When the user last authenticated, in seconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// The authentication context class the user met.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// The authentication methods used (`pwd`, `otp`, `hwk`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
}

/// Shows no claim values, as [`Claims`](crate::Claims) does: logs stay free of personal data.
impl std::fmt::Debug for StandardClaims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StandardClaims")
            .field("scopes", &self.scope.iter().count())
            .finish_non_exhaustive()
    }
}

impl HasScopes for StandardClaims {
    fn scopes(&self) -> &Scopes {
        &self.scope
    }
}

/// The claims as they are on the wire.
#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    aud: Option<OneOrMany>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    scope: Option<Scopes>,
    #[serde(default)]
    scp: Option<Scopes>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    auth_time: Option<u64>,
    #[serde(default)]
    acr: Option<String>,
    #[serde(default)]
    amr: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl From<Wire> for StandardClaims {
    fn from(wire: Wire) -> Self {
        StandardClaims {
            sub: wire.sub,
            iss: wire.iss,
            aud: match wire.aud {
                Some(OneOrMany::One(one)) => vec![one],
                Some(OneOrMany::Many(many)) => many,
                None => Vec::new(),
            },
            client_id: wire.client_id,
            scope: wire
                .scope
                .unwrap_or_default()
                .merge(wire.scp.unwrap_or_default()),
            jti: wire.jti,
            auth_time: wire.auth_time,
            acr: wire.acr,
            amr: wire.amr,
        }
    }
}

/// The scopes a token grants: RFC 9068's `scope` (space-separated) and the `scp` array some
/// issuers write (Entra ID, Okta), read into one set. Serializes as RFC 9068's string.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Whether `scope` is granted (exact, case-sensitive: RFC 6749 §3.3).
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    /// Every scope granted, in the token's order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether no scope is granted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Both sets in one, each scope once.
    pub(crate) fn merge(mut self, other: Scopes) -> Scopes {
        for scope in other.0 {
            if !self.contains(&scope) {
                self.0.push(scope);
            }
        }
        self
    }
}

impl<S: Into<String>> FromIterator<S> for Scopes {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        Scopes::default().merge(Scopes(iter.into_iter().map(Into::into).collect()))
    }
}

impl Serialize for Scopes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.join(" "))
    }
}

/// A space-separated string or an array of strings.
impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Wire {
            Spaced(String),
            Listed(Vec<String>),
        }
        Ok(match Wire::deserialize(deserializer)? {
            // RFC 6749 §3.3: delimited by U+0020 alone. A tab or a line feed is no
            // separator (nor a scope character): `read\twrite` grants neither.
            Wire::Spaced(text) => text.split(' ').filter(|s| !s.is_empty()).collect(),
            Wire::Listed(list) => list.into_iter().collect(),
        })
    }
}

/// Claims that carry OAuth 2.0 [`Scopes`]: [`StandardClaims`], or a
/// type of your own with a `Scopes` field.
pub trait HasScopes {
    /// The scopes the token grants.
    fn scopes(&self) -> &Scopes;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_and_scp_read_into_one_set() {
        let read = |json: &str| serde_json::from_str::<StandardClaims>(json).unwrap();
        let both = read(r#"{"sub":"u","scope":"read write","scp":["write","admin"]}"#);
        assert_eq!(
            both.scope.iter().collect::<Vec<_>>(),
            ["read", "write", "admin"]
        );
        assert!(read(r#"{"sub":"u","scp":"read"}"#).scope.contains("read"));
        assert!(read(r#"{"sub":"u"}"#).scope.is_empty());
        assert!(!read(r#"{"sub":"u","scope":"Read"}"#).scope.contains("read"));
        // Only U+0020 separates scopes (RFC 6749 §3.3).
        for spaced in [r#""read\twrite""#, r#""read\nwrite""#, r#""read\r\nwrite""#] {
            let claims = read(&format!(r#"{{"sub":"u","scope":{spaced}}}"#));
            assert!(!claims.scope.contains("write"), "{spaced}");
            assert!(!claims.scope.contains("read"), "{spaced}");
        }
        let doubled = read(r#"{"sub":"u","scope":"  read   write "}"#);
        assert_eq!(doubled.scope.iter().collect::<Vec<_>>(), ["read", "write"]);
        let json = serde_json::to_value(&both).unwrap();
        assert_eq!(json["scope"], "read write admin");
        assert!(json.get("scp").is_none());
    }
}
