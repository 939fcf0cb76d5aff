//! Fetching the issuer's JWKS document, and keeping it fresh.

use std::sync::Weak;
use std::time::Duration;

use http::header::CACHE_CONTROL;
use jsonwebtoken::jwk::JwkSet;

use super::Shared;
use crate::keys::Keys;

/// The longest a document is trusted without fetching it again, whatever its `max-age`.
const LONGEST_REFRESH: Duration = Duration::from_secs(60 * 60);
/// Documents larger than this are refused: a key set is a few KiB.
const MAX_DOCUMENT: usize = 1024 * 1024;

/// One fetch: the keys the document describes, and its `max-age`.
pub(super) async fn jwks(
    client: &reqwest::Client,
    url: &str,
) -> Result<(Keys, Option<Duration>), ()> {
    let response = client.get(url).send().await.map_err(|_| ())?;
    if !response.status().is_success() {
        return Err(());
    }
    let max_age = response
        .headers()
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|d| d.trim().strip_prefix("max-age="))
                .and_then(|secs| secs.parse().ok())
        })
        .map(Duration::from_secs);
    if response
        .content_length()
        .is_some_and(|len| len > MAX_DOCUMENT as u64)
    {
        return Err(());
    }
    let body = response.bytes().await.map_err(|_| ())?;
    if body.len() > MAX_DOCUMENT {
        return Err(());
    }
    let set: JwkSet = serde_json::from_slice(&body).map_err(|_| ())?;
    let keys = Keys::from_jwks(&set).map_err(|_| ())?;
    Ok((keys, max_age))
}

/// Fetches at once, then again every `max-age` (between the cooldown and an hour); while
/// no key has arrived, every cooldown. Ends with the verifier.
pub(super) async fn keep_fresh(shared: Weak<Shared>) {
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let cooldown = strong.cooldown;
        let next = match strong.fetch().await {
            Ok(max_age) => max_age
                .unwrap_or(Duration::from_secs(300))
                .clamp(cooldown, LONGEST_REFRESH.max(cooldown)),
            Err(()) => cooldown,
        };
        drop(strong);
        tokio::time::sleep(next).await;
    }
}
