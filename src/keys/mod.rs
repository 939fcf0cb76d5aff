//! The signing and verifying keys, and the one algorithm they allow.

use std::fmt;

use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};

use crate::error::ConfigError;

mod provider;

/// HMAC secrets shorter than this are refused: RFC 7518 §3.2 asks for a key at least as long
/// as the hash output (32 bytes for HS256).
pub const MIN_HMAC_SECRET_LEN: usize = 32;

/// The key pair that signs and verifies every token of the crate, fixed to one algorithm.
///
/// The algorithm is chosen here, never by a token's `alg` header (RFC 8725 §3.1): a token
/// signed with any other algorithm, `none` included, is refused. An HMAC secret can only be
/// built with [`Keys::hmac`], and public keys only with the RSA/EC/Ed constructors, so an
/// RS256 public key can never be used as an HS256 secret.
///
/// `Debug` prints the algorithm and `kid` only, never key material.
#[derive(Clone)]
pub struct Keys {
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    pub(crate) algorithm: Algorithm,
    pub(crate) kid: Option<String>,
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
        if secret.len() < MIN_HMAC_SECRET_LEN {
            return Err(ConfigError::SecretTooShort {
                len: secret.len(),
                min: MIN_HMAC_SECRET_LEN,
            });
        }
        Keys::checked(
            algorithm,
            EncodingKey::from_secret(secret),
            DecodingKey::from_secret(secret),
        )
    }

    /// RS256/384/512 or PS256/384/512 from a PEM private key and its PEM public key.
    pub fn rsa_pem(
        algorithm: Algorithm,
        private_pem: &[u8],
        public_pem: &[u8],
    ) -> Result<Self, ConfigError> {
        if algorithm.family() != AlgorithmFamily::Rsa {
            return Err(ConfigError::WrongKeyFamily);
        }
        let encoding = EncodingKey::from_rsa_pem(private_pem).map_err(|_| ConfigError::BadKey)?;
        let decoding = DecodingKey::from_rsa_pem(public_pem).map_err(|_| ConfigError::BadKey)?;
        Keys::checked(algorithm, encoding, decoding)
    }

    /// ES256 or ES384 from a PEM (PKCS#8) private key and its PEM public key.
    pub fn ec_pem(
        algorithm: Algorithm,
        private_pem: &[u8],
        public_pem: &[u8],
    ) -> Result<Self, ConfigError> {
        if algorithm.family() != AlgorithmFamily::Ec {
            return Err(ConfigError::WrongKeyFamily);
        }
        let encoding = EncodingKey::from_ec_pem(private_pem).map_err(|_| ConfigError::BadKey)?;
        let decoding = DecodingKey::from_ec_pem(public_pem).map_err(|_| ConfigError::BadKey)?;
        Keys::checked(algorithm, encoding, decoding)
    }

    /// EdDSA (Ed25519) from a PEM private key and its PEM public key.
    pub fn ed_pem(private_pem: &[u8], public_pem: &[u8]) -> Result<Self, ConfigError> {
        let encoding = EncodingKey::from_ed_pem(private_pem).map_err(|_| ConfigError::BadKey)?;
        let decoding = DecodingKey::from_ed_pem(public_pem).map_err(|_| ConfigError::BadKey)?;
        Keys::checked(Algorithm::EdDSA, encoding, decoding)
    }

    /// Sets the `kid` written into every token header, ready for key rotation.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The one algorithm these keys sign with and accept.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Signs and verifies a probe so that a mismatched key pair fails at build time, not on
    /// the first request.
    fn checked(
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
        .map_err(|_| ConfigError::BadKey)?;
        let mut validation = Validation::new(algorithm);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<serde_json::Value>(&probe, &decoding, &validation)
            .map_err(|_| ConfigError::KeyMismatch)?;
        Ok(Keys {
            encoding,
            decoding,
            algorithm,
            kid: None,
        })
    }
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Err(ConfigError::BadKey)
        ));
    }

    #[test]
    fn debug_hides_the_secret() {
        let keys = Keys::hs256(b"super-secret-value-that-is-long-enough!!").unwrap();
        let debug = format!("{keys:?}");
        assert!(!debug.contains("super-secret"));
        assert!(debug.contains("HS256"));
    }
}
