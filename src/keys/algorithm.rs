//! JWA algorithm names, and which key kind each one signs with: the one place that decides
//! for tokens, DPoP proofs and key sets alike.

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};

/// Every JWA name this crate reads or writes, and the algorithm it names: exact and
/// case-sensitive (RFC 7518 §3.1), so `none`, `hs256` and unknown names name nothing.
/// `Ed25519` is RFC 9864's fully-specified name for EdDSA on Ed25519 (which deprecates
/// `EdDSA`); the only EdDSA keys there are here are Ed25519 ones ([`jwk_fits`]).
const NAMES: [(&str, Algorithm); 13] = [
    ("ES256", Algorithm::ES256),
    ("ES384", Algorithm::ES384),
    ("Ed25519", Algorithm::EdDSA),
    ("EdDSA", Algorithm::EdDSA),
    ("RS256", Algorithm::RS256),
    ("RS384", Algorithm::RS384),
    ("RS512", Algorithm::RS512),
    ("PS256", Algorithm::PS256),
    ("PS384", Algorithm::PS384),
    ("PS512", Algorithm::PS512),
    ("HS256", Algorithm::HS256),
    ("HS384", Algorithm::HS384),
    ("HS512", Algorithm::HS512),
];

/// The algorithm a JWS header's (or a JWK's) `alg` names.
pub(crate) fn named(alg: &str) -> Option<Algorithm> {
    NAMES
        .iter()
        .find(|(name, _)| *name == alg)
        .map(|(_, algorithm)| *algorithm)
}

/// The names an algorithm is written with, in challenges (`algs`) and metadata documents:
/// EdDSA under both, the fully-specified one first.
pub(crate) fn names(algorithm: Algorithm) -> impl Iterator<Item = &'static str> {
    NAMES
        .iter()
        .filter(move |(_, named)| *named == algorithm)
        .map(|(name, _)| *name)
}

/// Whether a public key's kind (and curve) is the one `algorithm` signs with: RSA for RS* and
/// PS*, P-256 for ES256, P-384 for ES384, Ed25519 for EdDSA; never a shared secret.
pub(crate) fn jwk_fits(jwk: &Jwk, algorithm: Algorithm) -> bool {
    match (&jwk.algorithm, algorithm) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => {
            ec.curve == EllipticCurve::P256
        }
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => {
            ec.curve == EllipticCurve::P384
        }
        (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => {
            okp.curve == EllipticCurve::Ed25519
        }
        // `oct` (a shared secret) and anything else: never from a public document or proof.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ed25519_is_eddsa_and_names_stay_exact() {
        assert_eq!(named("Ed25519"), Some(Algorithm::EdDSA));
        assert_eq!(named("EdDSA"), Some(Algorithm::EdDSA));
        assert_eq!(named("ES256"), Some(Algorithm::ES256));
        for refused in ["none", "ed25519", "ED25519", "Ed448", "hs256", ""] {
            assert_eq!(named(refused), None, "{refused}");
        }
        assert_eq!(
            names(Algorithm::EdDSA).collect::<Vec<_>>(),
            ["Ed25519", "EdDSA"]
        );
        assert_eq!(names(Algorithm::PS512).collect::<Vec<_>>(), ["PS512"]);
    }
}
