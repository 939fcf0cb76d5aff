//! The key set: one signing key, any number of keys still accepted for verification, each
//! pinned to its own algorithm and found by its `kid`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};

use crate::error::ConfigError;

mod algorithm;
mod hmac;
mod jwks;
mod provider;

pub(crate) use algorithm::{jwk_fits, named as algorithm_named, names as algorithm_names};
pub(crate) use provider::ensure_provider;

use hmac::PreparedHmac;

pub(crate) use jwks::Jwks;

// What each PEM constructor expects, for its `BadKey` errors.
const RSA_PRIVATE: &str = "not a PEM RSA private key (PKCS#1 or PKCS#8)";
const RSA_PUBLIC: &str = "not a PEM RSA public key (PKCS#1 or SPKI)";
const EC_PRIVATE: &str = "not a PEM EC private key (PKCS#8)";
const EC_PUBLIC: &str = "not a PEM EC public key (SPKI)";
const ED_PRIVATE: &str = "not a PEM Ed25519 private key (PKCS#8)";
const ED_PUBLIC: &str = "not a PEM Ed25519 public key (SPKI)";

/// The keys that sign and verify every token of the crate: one signing key and any number of
/// retired ones still accepted, each fixed to one algorithm.
///
/// The algorithm is chosen here, never by a token's `alg` header (RFC 8725 §3.1): a token is
/// verified only with the key its `kid` names (a map lookup; the `kid` is never a path, URL or
/// query), and only if its `alg` is that key's algorithm. A token without `kid` is accepted
/// only when the set holds exactly one key. An HMAC secret can only be built with
/// [`Keys::hmac`], and public keys only with the RSA/EC/Ed constructors, so an RS256 public
/// key can never be used as an HS256 secret.
///
/// Asymmetric keys are named by their RFC 7638 thumbprint unless [`with_kid`](Self::with_kid)
/// says otherwise; HMAC keys need an explicit `kid` once the set holds more than one key.
///
/// **Rotating without logging anyone out**: sign with the new key and keep the old one for
/// verification, `Keys::rsa_pem(..new..)?.verifying(Keys::rsa_public_pem(..old..)?)?`, for at
/// least the longest life of a token it signed plus the leeway: a refresh token lives as long
/// as its session (3 days by default), an access token 15 minutes. Drop it after that.
///
/// ```
/// use tower_jwt_sessions::{Algorithm, Keys};
/// # let pem = |name: &str| std::fs::read(format!("tests/keys/{name}")).unwrap();
/// let current = Keys::ec_pem(Algorithm::ES256, &pem("ec_private.pem"), &pem("ec_public.pem"))?;
/// let retired = Keys::rsa_public_pem(Algorithm::RS256, &pem("rsa_public.pem"))?;
/// let keys = current.verifying(retired)?;
/// assert_eq!(keys.kids().count(), 2);
/// # Ok::<(), tower_jwt_sessions::ConfigError>(())
/// ```
///
/// `Debug` prints algorithms and `kid`s only, never key material.
#[derive(Clone)]
pub struct Keys {
    /// The signing key first, then the verify-only ones.
    keys: Vec<Key>,
    /// Whether `keys[0]` can sign (a set of public keys alone cannot).
    signs: bool,
    by_kid: Arc<HashMap<String, usize>>,
}

#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) algorithm: Algorithm,
    encoding: Option<EncodingKey>,
    pub(crate) decoding: DecodingKey,
    /// An HMAC secret's verifying state, prepared once; `None` for public keys, which
    /// jsonwebtoken verifies.
    pub(crate) hmac: Option<PreparedHmac>,
    /// The public key as a JWK, `None` for an HMAC secret (never published).
    jwk: Option<Jwk>,
}

impl Keys {
    /// HS256 with a shared secret of at least 32 bytes.
    ///
    /// ```
    /// let keys = tower_jwt_sessions::Keys::hs256(b"a secret of at least thirty-two bytes!").unwrap();
    /// assert!(tower_jwt_sessions::Keys::hs256(b"short").is_err());
    /// ```
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Keys::hmac(Algorithm::HS256, secret)
    }

    /// HS256, HS384 or HS512 with a shared secret of at least 32 bytes.
    pub fn hmac(algorithm: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let secret = secret.as_ref();
        if algorithm.family() != AlgorithmFamily::Hmac {
            return Err(ConfigError::WrongKeyFamily);
        }
        if secret.len() < crate::limits::MIN_HMAC_SECRET_LEN {
            return Err(ConfigError::SecretTooShort {
                len: secret.len(),
                min: crate::limits::MIN_HMAC_SECRET_LEN,
            });
        }
        let mut keys = Keys::checked(
            "Keys::hmac(secret)",
            algorithm,
            EncodingKey::from_secret(secret),
            DecodingKey::from_secret(secret),
        )?;
        for key in &mut keys.keys {
            key.hmac = PreparedHmac::new(algorithm, secret);
        }
        Ok(keys)
    }

    /// RS256/384/512 or PS256/384/512 from a PEM private key and its PEM public key.
    pub fn rsa_pem(
        algorithm: Algorithm,
        private_pem: &[u8],
        public_pem: &[u8],
    ) -> Result<Self, ConfigError> {
        family(algorithm, AlgorithmFamily::Rsa)?;
        let encoding = EncodingKey::from_rsa_pem(private_pem).map_err(ConfigError::bad_key(
            "Keys::rsa_pem(private_pem)",
            RSA_PRIVATE,
        ))?;
        let decoding = DecodingKey::from_rsa_pem(public_pem).map_err(ConfigError::bad_key(
            "Keys::rsa_pem(public_pem)",
            RSA_PUBLIC,
        ))?;
        Keys::checked("Keys::rsa_pem", algorithm, encoding, decoding)
    }

    /// ES256 or ES384 from a PEM (PKCS#8) private key and its PEM public key.
    pub fn ec_pem(
        algorithm: Algorithm,
        private_pem: &[u8],
        public_pem: &[u8],
    ) -> Result<Self, ConfigError> {
        family(algorithm, AlgorithmFamily::Ec)?;
        let encoding = EncodingKey::from_ec_pem(private_pem).map_err(ConfigError::bad_key(
            "Keys::ec_pem(private_pem)",
            EC_PRIVATE,
        ))?;
        let decoding = DecodingKey::from_ec_pem(public_pem)
            .map_err(ConfigError::bad_key("Keys::ec_pem(public_pem)", EC_PUBLIC))?;
        Keys::checked("Keys::ec_pem", algorithm, encoding, decoding)
    }

    /// EdDSA (Ed25519) from a PEM private key and its PEM public key.
    pub fn ed_pem(private_pem: &[u8], public_pem: &[u8]) -> Result<Self, ConfigError> {
        let encoding = EncodingKey::from_ed_pem(private_pem).map_err(ConfigError::bad_key(
            "Keys::ed_pem(private_pem)",
            ED_PRIVATE,
        ))?;
        let decoding = DecodingKey::from_ed_pem(public_pem)
            .map_err(ConfigError::bad_key("Keys::ed_pem(public_pem)", ED_PUBLIC))?;
        Keys::checked("Keys::ed_pem", Algorithm::EdDSA, encoding, decoding)
    }

    /// An RSA, EC or Ed25519 signing key from its PEM private key alone (the public half is
    /// derived from it), for `algorithm`'s family.
    ///
    /// ```
    /// # let pem = std::fs::read("tests/keys/ed_private.pem").unwrap();
    /// let keys = tower_jwt_sessions::Keys::from_private_pem(tower_jwt_sessions::Algorithm::EdDSA, &pem)?;
    /// # Ok::<(), tower_jwt_sessions::ConfigError>(())
    /// ```
    pub fn from_private_pem(algorithm: Algorithm, private_pem: &[u8]) -> Result<Self, ConfigError> {
        provider::ensure_provider();
        const KEY: &str = "Keys::from_private_pem(private_pem)";
        let (encoding, reason) = match algorithm.family() {
            AlgorithmFamily::Rsa => (EncodingKey::from_rsa_pem(private_pem), RSA_PRIVATE),
            AlgorithmFamily::Ec => (EncodingKey::from_ec_pem(private_pem), EC_PRIVATE),
            AlgorithmFamily::Ed => (EncodingKey::from_ed_pem(private_pem), ED_PRIVATE),
            AlgorithmFamily::Hmac => return Err(ConfigError::WrongKeyFamily),
        };
        let encoding = encoding.map_err(ConfigError::bad_key(KEY, reason))?;
        let public = Jwk::from_encoding_key(&encoding, algorithm).map_err(ConfigError::bad_key(
            KEY,
            "its public half cannot be derived for this algorithm",
        ))?;
        let decoding = DecodingKey::from_jwk(&public).map_err(ConfigError::bad_key(
            KEY,
            "its derived public half cannot verify",
        ))?;
        Keys::checked("Keys::from_private_pem", algorithm, encoding, decoding)
    }

    /// A retired RSA key, public part only: it verifies, never signs. Give it to
    /// [`verifying`](Self::verifying).
    pub fn rsa_public_pem(algorithm: Algorithm, public_pem: &[u8]) -> Result<Self, ConfigError> {
        family(algorithm, AlgorithmFamily::Rsa)?;
        const KEY: &str = "Keys::rsa_public_pem(public_pem)";
        let decoding =
            DecodingKey::from_rsa_pem(public_pem).map_err(ConfigError::bad_key(KEY, RSA_PUBLIC))?;
        Keys::public(KEY, algorithm, decoding)
    }

    /// A retired EC key, public part only: it verifies, never signs.
    pub fn ec_public_pem(algorithm: Algorithm, public_pem: &[u8]) -> Result<Self, ConfigError> {
        family(algorithm, AlgorithmFamily::Ec)?;
        const KEY: &str = "Keys::ec_public_pem(public_pem)";
        let decoding =
            DecodingKey::from_ec_pem(public_pem).map_err(ConfigError::bad_key(KEY, EC_PUBLIC))?;
        Keys::public(KEY, algorithm, decoding)
    }

    /// A retired Ed25519 key, public part only: it verifies, never signs.
    pub fn ed_public_pem(public_pem: &[u8]) -> Result<Self, ConfigError> {
        const KEY: &str = "Keys::ed_public_pem(public_pem)";
        let decoding =
            DecodingKey::from_ed_pem(public_pem).map_err(ConfigError::bad_key(KEY, ED_PUBLIC))?;
        Keys::public(KEY, Algorithm::EdDSA, decoding)
    }

    /// The verify-only set a JWKS document describes (a resource server's view of an
    /// issuer). Only what can be trusted is kept: a key needs `alg` matching its `kty` (and
    /// its curve), never `none`, never a symmetric `oct` key; a key meant for anything but
    /// signatures (`use` other than `sig`, `key_ops` without `verify`) is skipped; a `kid`
    /// that two keys share is ambiguous, so neither is used; every key of a set of more than
    /// one needs a `kid`. Keys that fail are skipped; `Err` when none is left.
    pub fn from_jwks(jwks: &jsonwebtoken::jwk::JwkSet) -> Result<Self, ConfigError> {
        Keys::from_jwks_allowing(jwks, None)
    }

    /// [`from_jwks`](Self::from_jwks) for another issuer's document, keeping only keys of
    /// the `allowed` algorithms. A key without `alg` (Entra ID publishes none) takes the one
    /// its `kty` and curve imply: RS256 for RSA (RFC 9068 §2.1's), ES256 or ES384 by curve,
    /// EdDSA for Ed25519, if allowed.
    pub(crate) fn from_jwks_allowing(
        jwks: &jsonwebtoken::jwk::JwkSet,
        allowed: Option<&[Algorithm]>,
    ) -> Result<Self, ConfigError> {
        use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, KeyOperations};
        provider::ensure_provider();
        let mut named = HashMap::<&str, usize>::new();
        for kid in jwks
            .keys
            .iter()
            .filter_map(|jwk| jwk.common.key_id.as_deref())
        {
            *named.entry(kid).or_default() += 1;
        }
        let mut keys = Vec::new();
        for jwk in &jwks.keys {
            let for_signatures = matches!(
                jwk.common.public_key_use,
                None | Some(PublicKeyUse::Signature)
            ) && jwk
                .common
                .key_operations
                .as_ref()
                .is_none_or(|ops| ops.contains(&KeyOperations::Verify));
            let ambiguous = jwk
                .common
                .key_id
                .as_deref()
                .is_some_and(|kid| named.get(kid).is_some_and(|&n| n > 1));
            if !for_signatures || ambiguous {
                continue;
            }
            let algorithm = match jwk.common.key_algorithm {
                Some(alg) => alg.to_string().parse::<Algorithm>().ok(),
                None if allowed.is_some() => match &jwk.algorithm {
                    AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
                    AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                        EllipticCurve::P256 => Some(Algorithm::ES256),
                        EllipticCurve::P384 => Some(Algorithm::ES384),
                        _ => None,
                    },
                    AlgorithmParameters::OctetKeyPair(okp) => {
                        (okp.curve == EllipticCurve::Ed25519).then_some(Algorithm::EdDSA)
                    }
                    _ => None,
                },
                None => None,
            };
            let Some(algorithm) = algorithm.filter(|alg| allowed.is_none_or(|a| a.contains(alg)))
            else {
                continue;
            };
            let fits = jwk_fits(jwk, algorithm);
            let Ok(decoding) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            if fits {
                keys.push(Key {
                    kid: jwk.common.key_id.clone(),
                    algorithm,
                    encoding: None,
                    decoding,
                    hmac: None,
                    jwk: Some(jwk.clone()),
                });
            }
        }
        if keys.is_empty() {
            // Each key was skipped for a reason of its own: the rules above are the answer.
            return Err(ConfigError::BadKey {
                key: "Keys::from_jwks(jwks)",
                reason: "no key of the document is a signature key whose alg fits its kty and curve",
                source: None,
            });
        }
        if keys.len() > 1 && keys.iter().any(|key| key.kid.is_none()) {
            return Err(ConfigError::MissingKid);
        }
        let mut set = Keys {
            keys,
            signs: false,
            by_kid: Arc::default(),
        };
        set.index();
        Ok(set)
    }

    /// Names the signing key (or, in a set of public keys, the first): its `kid` goes into
    /// every token header and tokens are matched to it by it.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        if let Some(key) = self.keys.first_mut() {
            let kid = kid.into();
            // The published JWK carries the same name, or verifiers could not find it.
            key.jwk = key.jwk.take().map(|jwk| named(jwk, &kid));
            key.kid = Some(kid);
        }
        self.index();
        self
    }

    /// Adds every key of `retired` to this set, for verification only (any signing part is
    /// dropped): tokens they signed stay valid while new ones are signed by this set's key.
    /// Every key of a set of more than one needs a distinct `kid`.
    pub fn verifying(mut self, retired: Keys) -> Result<Self, ConfigError> {
        self.keys.extend(retired.keys.into_iter().map(|mut key| {
            key.encoding = None;
            key
        }));
        let mut seen = std::collections::HashSet::new();
        for key in &self.keys {
            match &key.kid {
                None => return Err(ConfigError::MissingKid),
                Some(kid) if !seen.insert(kid.as_str()) => {
                    return Err(ConfigError::DuplicateKid(kid.clone()));
                }
                Some(_) => {}
            }
        }
        self.index();
        Ok(self)
    }

    /// The algorithm of the signing key.
    pub fn algorithm(&self) -> Algorithm {
        self.keys[0].algorithm
    }

    /// The `kid`s of the set, the signing key's first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|key| key.kid.as_deref())
    }

    /// The key that signs, `None` for a set of public keys.
    pub(crate) fn signing(&self) -> Option<(&Key, &EncodingKey)> {
        let key = self.keys.first()?;
        key.encoding
            .as_ref()
            .filter(|_| self.signs)
            .map(|e| (key, e))
    }

    /// The key a token's header names: by `kid`, or the only key when there is no `kid`.
    /// `None` when no key of the set fits.
    pub(crate) fn for_token(&self, kid: Option<&str>) -> Option<&Key> {
        match kid {
            Some(kid) => match self.by_kid.get(kid) {
                Some(&index) => self.keys.get(index),
                // A single key without a name takes any `kid`: it was never meant to choose.
                None if self.keys.len() == 1 && self.keys[0].kid.is_none() => self.keys.first(),
                None => None,
            },
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
    }

    /// Whether every key of `old` is still in this set, with the same `kid`, algorithm and
    /// public key: if not, what `old` verified must not be trusted any more.
    #[cfg(feature = "jwks")]
    pub(crate) fn keeps_every_key_of(&self, old: &Keys) -> bool {
        // Keys are compared by their public JWK: an HMAC secret has none, so a set holding
        // one is never taken as kept.
        old.keys.iter().all(|gone| {
            gone.jwk.is_some()
                && self.keys.iter().any(|key| {
                    key.kid == gone.kid && key.algorithm == gone.algorithm && key.jwk == gone.jwk
                })
        })
    }

    /// The public JWKs of the set; `Err` when it holds an HMAC secret, which must never be
    /// published.
    pub(crate) fn jwks(&self) -> Result<Vec<Jwk>, ConfigError> {
        self.keys
            .iter()
            .map(|key| key.jwk.clone().ok_or(ConfigError::SymmetricKeyInJwks))
            .collect()
    }

    fn index(&mut self) {
        self.by_kid = Arc::new(
            self.keys
                .iter()
                .enumerate()
                .filter_map(|(i, key)| key.kid.clone().map(|kid| (kid, i)))
                .collect(),
        );
    }

    fn single(key: Key, signs: bool) -> Self {
        let mut keys = Keys {
            keys: vec![key],
            signs,
            by_kid: Arc::default(),
        };
        keys.index();
        keys
    }

    /// `key` names the constructor's argument in errors.
    fn public(
        key: &'static str,
        algorithm: Algorithm,
        decoding: DecodingKey,
    ) -> Result<Self, ConfigError> {
        provider::ensure_provider();
        let jwk = public_jwk(key, &decoding, algorithm)?;
        let kid = thumbprint(key, &jwk)?;
        Ok(Keys::single(
            Key {
                jwk: Some(named(jwk, &kid)),
                kid: Some(kid),
                algorithm,
                encoding: None,
                decoding,
                hmac: None,
            },
            false,
        ))
    }

    /// Signs and verifies a probe so that a mismatched key pair fails at build time, not on
    /// the first request. `constructor` names the caller in errors.
    fn checked(
        constructor: &'static str,
        algorithm: Algorithm,
        encoding: EncodingKey,
        decoding: DecodingKey,
    ) -> Result<Self, ConfigError> {
        provider::ensure_provider();
        let probe = jsonwebtoken::encode(
            &Header::new(algorithm),
            &serde_json::json!({ "exp": u64::MAX / 2 }),
            &encoding,
        )
        .map_err(ConfigError::bad_key(
            constructor,
            "the private key cannot sign with this algorithm (another size or curve?)",
        ))?;
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        // The only cause is a signature that does not verify: the variant says all of it.
        jsonwebtoken::decode::<serde_json::Value>(&probe, &decoding, &validation)
            .map_err(|_| ConfigError::KeyMismatch)?;
        let (kid, jwk) = if algorithm.family() == AlgorithmFamily::Hmac {
            (None, None)
        } else {
            let jwk = public_jwk(constructor, &decoding, algorithm)?;
            let kid = thumbprint(constructor, &jwk)?;
            (Some(kid.clone()), Some(named(jwk, &kid)))
        };
        Ok(Keys::single(
            Key {
                kid,
                algorithm,
                encoding: Some(encoding),
                decoding,
                hmac: None,
                jwk,
            },
            true,
        ))
    }
}

fn family(algorithm: Algorithm, family: AlgorithmFamily) -> Result<(), ConfigError> {
    if algorithm.family() == family {
        Ok(())
    } else {
        Err(ConfigError::WrongKeyFamily)
    }
}

/// The public key as a JWK with `alg` and `use`, RFC 7517/7518 members only.
fn public_jwk(
    key: &'static str,
    decoding: &DecodingKey,
    algorithm: Algorithm,
) -> Result<Jwk, ConfigError> {
    let mut jwk =
        Jwk::from_decoding_key(decoding, Some(algorithm)).map_err(ConfigError::bad_key(
            key,
            "its public key cannot be written as a JWK for this algorithm",
        ))?;
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(jwk)
}

/// RFC 7638: SHA-256 over the required members, base64url.
fn thumbprint(key: &'static str, jwk: &Jwk) -> Result<String, ConfigError> {
    jwk.thumbprint(ThumbprintHash::SHA256)
        .map_err(ConfigError::bad_key(
            key,
            "its RFC 7638 thumbprint cannot be computed",
        ))
}

fn named(mut jwk: Jwk, kid: &str) -> Jwk {
    jwk.common.key_id = Some(kid.to_owned());
    jwk
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<(Algorithm, Option<&str>)> = self
            .keys
            .iter()
            .map(|key| (key.algorithm, key.kid.as_deref()))
            .collect();
        f.debug_struct("Keys")
            .field("keys", &keys)
            .field("signs", &self.signs)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_issuers_keys_without_alg_take_the_one_their_kind_implies() {
        let pem = |name| {
            std::fs::read(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
        };
        let jwk = |algorithm, file| {
            let encoding = EncodingKey::from_rsa_pem(&pem(file))
                .or_else(|_| EncodingKey::from_ec_pem(&pem(file)))
                .unwrap();
            let mut jwk = Jwk::from_encoding_key(&encoding, algorithm).unwrap();
            jwk.common.key_algorithm = None; // as Entra ID publishes them
            jwk.common.key_id = Some(format!("{algorithm:?}"));
            jwk
        };
        let set = jsonwebtoken::jwk::JwkSet {
            keys: vec![
                jwk(Algorithm::RS256, "rsa_private.pem"),
                jwk(Algorithm::ES256, "ec_private.pem"),
            ],
        };
        // This crate's own documents always name `alg`: without it, no key.
        assert!(Keys::from_jwks(&set).is_err());
        let all =
            Keys::from_jwks_allowing(&set, Some(&[Algorithm::RS256, Algorithm::ES256])).unwrap();
        assert_eq!(
            all.for_token(Some("RS256")).unwrap().algorithm,
            Algorithm::RS256
        );
        assert_eq!(
            all.for_token(Some("ES256")).unwrap().algorithm,
            Algorithm::ES256
        );
        // Only the allowed algorithms: an RSA key is not taken as PS256 by guess, nor kept
        // when RS256 is not allowed.
        let es_only = Keys::from_jwks_allowing(&set, Some(&[Algorithm::ES256])).unwrap();
        assert!(es_only.for_token(Some("RS256")).is_none());
        assert!(Keys::from_jwks_allowing(&set, Some(&[Algorithm::PS256])).is_err());
    }

    #[test]
    fn hmac_rules() {
        assert!(matches!(
            Keys::hs256([0u8; 31]),
            Err(ConfigError::SecretTooShort { len: 31, min: 32 })
        ));
        assert!(Keys::hs256([7u8; 32]).is_ok());
        assert!(matches!(
            Keys::hmac(Algorithm::RS256, [7u8; 64]),
            Err(ConfigError::WrongKeyFamily)
        ));
        assert!(matches!(
            Keys::rsa_pem(Algorithm::HS256, b"", b""),
            Err(ConfigError::WrongKeyFamily)
        ));
        assert!(matches!(
            Keys::rsa_pem(Algorithm::RS256, b"not pem", b"not pem"),
            Err(ConfigError::BadKey { .. })
        ));
    }

    #[test]
    fn a_bad_key_names_the_key_and_keeps_the_cause() {
        use std::error::Error;
        let pem = std::fs::read("tests/keys/ec_private.pem").unwrap();
        // An RSA public key where the EC one was expected.
        let public = std::fs::read("tests/keys/rsa_public.pem").unwrap();
        let err = Keys::ec_pem(Algorithm::ES256, &pem, &public).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("Keys::ec_pem(public_pem)"), "{text}");
        assert!(text.contains("not a PEM EC public key"), "{text}");
        assert!(err.source().is_some(), "{err:?}");
        let err = Keys::from_private_pem(Algorithm::EdDSA, b"not pem").unwrap_err();
        assert!(
            err.to_string()
                .contains("Keys::from_private_pem(private_pem)")
        );
        assert!(err.to_string().contains("Ed25519 private key"));
        assert!(err.source().is_some());
        // Equal by variant and fields: the source takes no part.
        assert_eq!(
            err,
            Keys::from_private_pem(Algorithm::EdDSA, b"other").unwrap_err()
        );
        assert_ne!(err, Keys::ed_public_pem(b"not pem").unwrap_err());
    }

    #[test]
    fn a_bad_key_error_holds_no_key_material() {
        let pem = std::fs::read("tests/keys/ec_private.pem").unwrap();
        // A private key given as the public one: its bytes must not reach the error.
        let err = Keys::ec_public_pem(Algorithm::ES256, &pem).unwrap_err();
        let body: String = String::from_utf8(pem)
            .unwrap()
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        let middle = &body[body.len() / 2..][..16];
        for text in [err.to_string(), format!("{err:?}")] {
            assert!(!text.contains(middle), "{text}");
        }
    }

    #[test]
    fn debug_hides_the_secret() {
        let keys = Keys::hs256(b"super-secret-value-that-is-long-enough!!").unwrap();
        let debug = format!("{keys:?}");
        assert!(!debug.contains("super-secret"));
        assert!(debug.contains("HS256"));
    }

    #[test]
    fn a_private_key_alone_gives_the_same_key_as_the_pair() {
        let pem = |name: &str| std::fs::read(format!("tests/keys/{name}")).unwrap();
        let pairs = [
            (
                Algorithm::RS256,
                "rsa_private.pem",
                Keys::rsa_pem(
                    Algorithm::RS256,
                    &pem("rsa_private.pem"),
                    &pem("rsa_public.pem"),
                ),
            ),
            (
                Algorithm::ES256,
                "ec_private.pem",
                Keys::ec_pem(
                    Algorithm::ES256,
                    &pem("ec_private.pem"),
                    &pem("ec_public.pem"),
                ),
            ),
            (
                Algorithm::EdDSA,
                "ed_private.pem",
                Keys::ed_pem(&pem("ed_private.pem"), &pem("ed_public.pem")),
            ),
        ];
        for (algorithm, private, pair) in pairs {
            let alone = Keys::from_private_pem(algorithm, &pem(private)).unwrap();
            assert_eq!(
                alone.kids().collect::<Vec<_>>(),
                pair.unwrap().kids().collect::<Vec<_>>(),
                "{algorithm:?}"
            );
        }
        assert_eq!(
            Keys::from_private_pem(Algorithm::HS256, b"x").err(),
            Some(ConfigError::WrongKeyFamily)
        );
    }

    #[test]
    fn a_jwks_document_gives_only_keys_it_can_trust() {
        let pem = |name: &str| std::fs::read(format!("tests/keys/{name}")).unwrap();
        let rsa = Keys::rsa_pem(
            Algorithm::RS256,
            &pem("rsa_private.pem"),
            &pem("rsa_public.pem"),
        )
        .unwrap();
        let ed = Keys::ed_public_pem(&pem("ed_public.pem")).unwrap();
        let mut document = jsonwebtoken::jwk::JwkSet {
            keys: rsa.verifying(ed).unwrap().jwks().unwrap(),
        };
        let from = Keys::from_jwks(&document).unwrap();
        assert_eq!(from.kids().count(), 2);
        assert!(from.signing().is_none());
        // An RSA key claiming ES256, and a shared secret: both skipped.
        let mut liar = document.keys[0].clone();
        liar.common.key_algorithm = Some(jsonwebtoken::jwk::KeyAlgorithm::ES256);
        liar.common.key_id = Some("liar".into());
        document.keys.push(liar);
        let secret = jsonwebtoken::jwk::Jwk::from_encoding_key(
            &EncodingKey::from_secret(&[7u8; 32]),
            Algorithm::HS256,
        )
        .unwrap();
        document.keys.push(secret);
        let from = Keys::from_jwks(&document).unwrap();
        assert_eq!(from.kids().count(), 2);
        assert!(from.for_token(Some("liar")).is_none());
        document.keys.truncate(0);
        assert!(Keys::from_jwks(&document).is_err());
    }

    #[test]
    fn sets_need_distinct_names() {
        let a = Keys::hs256([1u8; 32]).unwrap();
        let b = Keys::hs256([2u8; 32]).unwrap();
        assert_eq!(
            a.clone().verifying(b.clone()).err(),
            Some(ConfigError::MissingKid)
        );
        assert_eq!(
            a.clone()
                .with_kid("k")
                .verifying(b.clone().with_kid("k"))
                .err(),
            Some(ConfigError::DuplicateKid("k".into()))
        );
        let set = a.with_kid("new").verifying(b.with_kid("old")).unwrap();
        // A public key renamed is published under its new name.
        let pem = std::fs::read("tests/keys/ec_public.pem").unwrap();
        let renamed = Keys::ec_public_pem(Algorithm::ES256, &pem)
            .unwrap()
            .with_kid("mine");
        assert_eq!(
            renamed.jwks().unwrap()[0].common.key_id.as_deref(),
            Some("mine")
        );
        assert_eq!(set.kids().collect::<Vec<_>>(), ["new", "old"]);
        assert_eq!(
            set.for_token(Some("old")).unwrap().kid.as_deref(),
            Some("old")
        );
        assert!(set.for_token(Some("other")).is_none());
        // Two keys: a token must say which.
        assert!(set.for_token(None).is_none());
        assert!(set.signing().is_some());
        assert!(set.jwks().is_err(), "HMAC secrets are never published");
    }
}
