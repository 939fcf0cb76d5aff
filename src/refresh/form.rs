//! The refresh route's standard form (RFC 6749 §6): `grant_type=refresh_token&refresh_token=..`
//! in an `application/x-www-form-urlencoded` body, read with a bound.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Buf;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use http_body::Body;
use pin_project_lite::pin_project;

use crate::error::AuthError;
use crate::error::refusals::{
    FORM_MALFORMED, FORM_REPEATED, FORM_TOO_LARGE, FORM_UNREADABLE, NO_GRANT_TYPE,
    NO_REFRESH_TOKEN, TOKEN_TOO_LONG, UNSUPPORTED_GRANT,
};
use crate::limits::MAX_FORM_LEN;
use crate::token::MAX_TOKEN_LEN;

/// Whether the request says its body is a form (the media type, whatever its parameters).
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).is_some_and(|value| {
        let media = value.as_bytes().split(|&b| b == b';').next().unwrap_or(b"");
        media
            .trim_ascii()
            .eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
    })
}

pin_project! {
    /// The whole body, or a refusal once it passes [`MAX_FORM_LEN`] (nothing more is read)
    /// or fails. Copies each frame as it comes, so no `B::Data` is kept across polls.
    pub(crate) struct Collect<B> {
        #[pin]
        body: B,
        bytes: Vec<u8>,
    }
}

impl<B> Collect<B> {
    pub(crate) fn new(body: B) -> Self {
        Collect {
            body,
            bytes: Vec::new(),
        }
    }
}

impl<B: Body> Future for Collect<B> {
    type Output = Result<Vec<u8>, AuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // A declared length over the bound is refused before a byte is read.
        if this.bytes.is_empty() && this.body.size_hint().lower() > MAX_FORM_LEN as u64 {
            return Poll::Ready(Err(FORM_TOO_LARGE));
        }
        loop {
            match ready!(this.body.as_mut().poll_frame(cx)) {
                None => return Poll::Ready(Ok(std::mem::take(this.bytes))),
                // The cause (a reset stream, bad chunking) is the client's or its network's;
                // it is not logged, a read error is routine for a server.
                Some(Err(_)) => return Poll::Ready(Err(FORM_UNREADABLE)),
                Some(Ok(frame)) => {
                    // Trailers carry nothing a form needs.
                    let Ok(mut data) = frame.into_data() else {
                        continue;
                    };
                    if this.bytes.len() + data.remaining() > MAX_FORM_LEN {
                        return Poll::Ready(Err(FORM_TOO_LARGE));
                    }
                    while data.has_remaining() {
                        let chunk = data.chunk();
                        this.bytes.extend_from_slice(chunk);
                        let read = chunk.len();
                        data.advance(read);
                    }
                }
            }
        }
    }
}

/// The refresh token of a form body: `Ok(None)` for a body without any parameter (a client
/// of the original API whose library labels every `POST` a form), else the grant's token or
/// why the request is refused. `client_id` and any other parameter are ignored (the route
/// serves public clients, RFC 6749 §2.1); none may appear twice (§3.2).
pub(crate) fn refresh_token(body: &[u8]) -> Result<Option<String>, AuthError> {
    let mut grant_type = None;
    let mut token = None;
    let mut any = false;
    for pair in body.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
        any = true;
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        let name = decode(name)?;
        let slot = match name.as_str() {
            "grant_type" => &mut grant_type,
            "refresh_token" => &mut token,
            _ => {
                // Ignored, but a second one is still a malformed request.
                continue;
            }
        };
        if slot.is_some() {
            return Err(FORM_REPEATED);
        }
        *slot = Some(decode(value)?);
    }
    if !any {
        return Ok(None);
    }
    match grant_type.as_deref() {
        None | Some("") => return Err(NO_GRANT_TYPE),
        Some("refresh_token") => {}
        Some(_) => return Err(UNSUPPORTED_GRANT),
    }
    let token = token.filter(|t| !t.is_empty()).ok_or(NO_REFRESH_TOKEN)?;
    if token.len() > MAX_TOKEN_LEN {
        return Err(TOKEN_TOO_LONG);
    }
    Ok(Some(token))
}

/// One `application/x-www-form-urlencoded` name or value: `+` is a space, `%XX` a byte; the
/// result must be UTF-8.
fn decode(encoded: &[u8]) -> Result<String, AuthError> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut bytes = encoded.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
                match (hex(bytes.next()), hex(bytes.next())) {
                    (Some(high), Some(low)) => out.push((high * 16 + low) as u8),
                    _ => return Err(FORM_MALFORMED),
                }
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).map_err(|_| FORM_MALFORMED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_media_type_is_read_whatever_its_parameters() {
        let form = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, http::HeaderValue::from_static(value));
            is_form(&headers)
        };
        assert!(form("application/x-www-form-urlencoded"));
        assert!(form("Application/X-WWW-Form-Urlencoded ; charset=UTF-8"));
        assert!(!form("application/json"));
        assert!(!form("application/x-www-form-urlencodedx"));
        assert!(!is_form(&HeaderMap::new()));
    }

    #[test]
    fn a_grant_gives_its_token_and_anything_else_a_named_refusal() {
        let token = |body: &str| refresh_token(body.as_bytes());
        assert_eq!(
            token("grant_type=refresh_token&refresh_token=a.b.c&client_id=pet%2Ddemo"),
            Ok(Some("a.b.c".into()))
        );
        assert_eq!(
            token("refresh_token=a%2Eb.c&grant_type=refresh%5Ftoken"),
            Ok(Some("a.b.c".into()))
        );
        assert_eq!(token(""), Ok(None));
        assert_eq!(token("&&"), Ok(None));
        assert_eq!(token("refresh_token=a.b.c"), Err(NO_GRANT_TYPE));
        assert_eq!(token("grant_type=&refresh_token=a"), Err(NO_GRANT_TYPE));
        assert_eq!(
            token("grant_type=password&username=u"),
            Err(UNSUPPORTED_GRANT)
        );
        assert_eq!(token("grant_type=refresh_token"), Err(NO_REFRESH_TOKEN));
        assert_eq!(
            token("grant_type=refresh_token&refresh_token="),
            Err(NO_REFRESH_TOKEN)
        );
        assert_eq!(
            token("grant_type=refresh_token&refresh_token=a&refresh_token=b"),
            Err(FORM_REPEATED)
        );
        assert_eq!(
            token("grant_type=refresh_token&refresh_token=%zz"),
            Err(FORM_MALFORMED)
        );
        assert_eq!(
            token("grant_type=refresh_token&refresh_token=%ff"),
            Err(FORM_MALFORMED)
        );
        assert_eq!(
            token("grant_type=refresh_token&refresh_token=%4"),
            Err(FORM_MALFORMED)
        );
        let long = format!(
            "grant_type=refresh_token&refresh_token={}",
            "a".repeat(MAX_TOKEN_LEN + 1)
        );
        assert_eq!(token(&long), Err(TOKEN_TOO_LONG));
    }

    /// A body of frames, for the bound's tests.
    struct Frames(Vec<bytes::Bytes>, u64);

    impl Body for Frames {
        type Data = bytes::Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
            Poll::Ready((!self.0.is_empty()).then(|| Ok(http_body::Frame::data(self.0.remove(0)))))
        }
        fn size_hint(&self) -> http_body::SizeHint {
            let mut hint = http_body::SizeHint::new();
            hint.set_lower(self.1);
            hint
        }
    }

    fn collect(body: Frames) -> Result<Vec<u8>, AuthError> {
        let mut future = std::pin::pin!(Collect::new(body));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(result) => result,
            Poll::Pending => panic!("every frame is ready"),
        }
    }

    #[test]
    fn the_body_is_read_up_to_its_bound() {
        let chunk = |n: usize| bytes::Bytes::from(vec![b'a'; n]);
        assert_eq!(
            collect(Frames(vec![chunk(3), chunk(MAX_FORM_LEN - 3)], 0)).map(|b| b.len()),
            Ok(MAX_FORM_LEN)
        );
        assert_eq!(
            collect(Frames(vec![chunk(MAX_FORM_LEN), chunk(1)], 0)),
            Err(FORM_TOO_LARGE)
        );
        // A declared length over the bound: refused before reading.
        assert_eq!(
            collect(Frames(vec![chunk(1)], MAX_FORM_LEN as u64 + 1)),
            Err(FORM_TOO_LARGE)
        );
        assert_eq!(collect(Frames(vec![], 0)), Ok(Vec::new()));
    }
}
