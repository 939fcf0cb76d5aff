//! SHA-256 from the crypto backend (never written here): for `ath` and for nonces.

/// SHA-256 of the concatenated `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    #[cfg(feature = "aws-lc-rs")]
    {
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        for part in parts {
            context.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(context.finish().as_ref());
        out
    }
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        for part in parts {
            hasher.update(part);
        }
        hasher.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_known_answer() {
        // FIPS 180-2, "abc".
        let digest = super::sha256(&[b"a", b"bc"]);
        assert_eq!(
            digest[..4],
            [0xba, 0x78, 0x16, 0xbf],
            "SHA-256(abc) starts ba7816bf"
        );
    }
}
