//! Which jsonwebtoken crypto backend signs and verifies.

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!(
    "tower-jwt-sessions needs a crypto backend: enable the `aws-lc-rs` (default) or `rust-crypto` feature"
);

/// jsonwebtoken panics at first use when both of its backends are compiled in and none was
/// installed; we pick aws-lc-rs, the faster one, unless the application installed its own.
pub(crate) fn ensure_provider() {
    #[cfg(all(feature = "aws-lc-rs", feature = "rust-crypto"))]
    {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            // An Err means the application already installed a provider: keep theirs.
            let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
                &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
            );
        });
    }
}
