//! The app's hook to change how refusals look.

use std::fmt;
use std::sync::Arc;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use bytes::Bytes;
use http::{HeaderMap, Response};

use super::{AuthError, refusals};

/// Turns an [`AuthError`] into the response the client gets.
///
/// The default is [`AuthError::to_response`]; replace it with
/// [`SessionsBuilder::error_renderer`](crate::SessionsBuilder::error_renderer) to change the
/// body format. The renderer is called only for refusals, never on the success path.
#[derive(Clone)]
pub struct ErrorRenderer {
    render: Arc<RenderFn>,
}

type RenderFn = dyn Fn(&AuthError) -> Response<Bytes> + Send + Sync;

impl ErrorRenderer {
    /// Wraps a rendering function.
    pub fn new(render: impl Fn(&AuthError) -> Response<Bytes> + Send + Sync + 'static) -> Self {
        ErrorRenderer {
            render: Arc::new(render),
        }
    }

    /// The crate's default rendering, with an optional realm in every challenge.
    pub fn default_with_realm(realm: Option<String>) -> Self {
        let prepared = Prepared::new(realm.as_deref());
        ErrorRenderer::new(move |err| {
            prepared
                .render(err)
                .unwrap_or_else(|| err.to_response(realm.as_deref()))
        })
    }

    /// Renders one error.
    pub fn render(&self, err: &AuthError) -> Response<Bytes> {
        (self.render)(err)
    }
}

/// Every fixed refusal rendered once (body and headers), so that refusing garbage costs a
/// table lookup and a copy of a small header map, not JSON and header formatting.
struct Prepared {
    responses: HashMap<(u8, &'static str), (HeaderMap, Bytes), BuildHasherDefault<TextHash>>,
}

/// The keys are the crate's own few dozen texts, so no flooding to fear: a text is hashed by
/// its length and its first and last eight bytes (the map still compares whole texts).
#[derive(Default)]
struct TextHash(u64);

impl Hasher for TextHash {
    fn write(&mut self, bytes: &[u8]) {
        let word = |at: &[u8]| {
            let mut buf = [0u8; 8];
            let n = at.len().min(8);
            buf[..n].copy_from_slice(&at[..n]);
            u64::from_le_bytes(buf)
        };
        let tail = &bytes[bytes.len().saturating_sub(8)..];
        for part in [bytes.len() as u64, word(bytes), word(tail)] {
            self.0 = (self.0 ^ part)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(29);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Prepared {
    fn new(realm: Option<&str>) -> Self {
        let responses = refusals::ALL
            .iter()
            .filter_map(|err| {
                let key = Prepared::key(err)?;
                let (parts, body) = err.to_response(realm).into_parts();
                Some((key, (parts.headers, body)))
            })
            .collect();
        Prepared { responses }
    }

    /// Only refusals whose text is fixed by the crate have a key: the variant and the text.
    fn key(err: &AuthError) -> Option<(u8, &'static str)> {
        match err {
            AuthError::InvalidRequest(d) => Some((0, d)),
            AuthError::InvalidToken(d) => Some((1, d)),
            AuthError::MissingCredentials => Some((2, "")),
            AuthError::Unavailable => Some((3, "")),
            AuthError::MethodNotAllowed => Some((4, "")),
            _ => None,
        }
    }

    fn render(&self, err: &AuthError) -> Option<Response<Bytes>> {
        let (headers, body) = self.responses.get(&Prepared::key(err)?)?;
        let mut response = Response::new(body.clone());
        *response.status_mut() = err.status();
        *response.headers_mut() = headers.clone();
        Some(response)
    }
}

impl Default for ErrorRenderer {
    fn default() -> Self {
        ErrorRenderer::default_with_realm(None)
    }
}

impl fmt::Debug for ErrorRenderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ErrorRenderer").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_refusals_equal_rendered_ones() {
        for realm in [None, Some("pet-demo")] {
            let renderer = ErrorRenderer::default_with_realm(realm.map(str::to_owned));
            let mut errors = refusals::ALL.to_vec();
            errors.push(AuthError::insufficient_scope("write"));
            errors.push(AuthError::InvalidToken("a text of the app's own"));
            // An empty text must not be taken for the bare challenge of no credentials.
            errors.push(AuthError::InvalidToken(""));
            for err in errors {
                let (fresh, fresh_body) = err.to_response(realm).into_parts();
                let (prepared, prepared_body) = renderer.render(&err).into_parts();
                assert_eq!(prepared.status, fresh.status, "{err}");
                assert_eq!(prepared.headers, fresh.headers, "{err}");
                assert_eq!(prepared_body, fresh_body, "{err}");
            }
        }
    }
}
