//! The access path: one request through the layer around a trivial service, against the
//! bare service and the floor (a minimal hand-written layer around `jsonwebtoken::decode`),
//! all in the same run. `python3 benches/report.py` prints the ratios.

mod common;

use std::hint::black_box;

use common::*;
use criterion::{Criterion, criterion_group, criterion_main};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tower::{Layer, Service};
use tower_jwt_sessions::SessionMeta;

fn request(auth: Option<&HeaderValue>) -> Request<String> {
    let mut req = Request::get("/me").body(String::new()).unwrap();
    if let Some(auth) = auth {
        req.headers_mut().insert(AUTHORIZATION, auth.clone());
    }
    req
}

/// The floor: what the thinnest correct hand-written layer does per request.
fn floor(
    inner: &mut Hello,
    key: &DecodingKey,
    validation: &Validation,
    auth: &HeaderValue,
) -> http::StatusCode {
    let mut req = request(Some(auth));
    let value = req.headers().get(AUTHORIZATION).unwrap().to_str().unwrap();
    let token = value.strip_prefix("Bearer ").unwrap();
    match jsonwebtoken::decode::<PlainClaims>(token, key, validation) {
        Ok(data) => {
            req.extensions_mut().insert(data.claims);
            now(inner.call(req)).unwrap().status()
        }
        Err(_) => http::StatusCode::UNAUTHORIZED,
    }
}

fn bench_alg(c: &mut Criterion, alg: Algorithm, rt: &tokio::runtime::Runtime) {
    let name = format!("{alg:?}");
    let (keys, decoding) = keys(alg);
    let mut validation = Validation::new(alg);
    validation.leeway = 5;
    validation.validate_nbf = true;

    let mk = |cache: bool| {
        let sessions = in_memory(keys.clone())
            .token_cache_bytes(cache.then_some(32 << 20))
            .build()
            .unwrap();
        let issued = rt
            .block_on(sessions.create("u1", &user(), SessionMeta::default()))
            .unwrap();
        (sessions, issued.access_token)
    };
    let (uncached, token) = mk(false);
    let auth = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    let (cached, cached_token) = mk(true);
    let cached_auth = HeaderValue::from_str(&format!("Bearer {cached_token}")).unwrap();

    let mut group = c.benchmark_group(format!("access/{name}"));
    let mut inner = Hello;
    group.bench_function("floor", |b| {
        b.iter(|| floor(&mut inner, &decoding, &validation, black_box(&auth)))
    });
    let mut svc = uncached.layer().layer(Hello);
    group.bench_function("layer", |b| {
        b.iter(|| {
            now(svc.call(request(Some(black_box(&auth)))))
                .unwrap()
                .status()
        })
    });
    let mut svc = cached.layer().layer(Hello);
    group.bench_function("layer_cached", |b| {
        b.iter(|| {
            now(svc.call(request(Some(black_box(&cached_auth)))))
                .unwrap()
                .status()
        })
    });
    if alg == Algorithm::HS256 {
        // The physics of a new token: HMAC-SHA256 alone over its signing input, and base64url
        // decoding alone of its payload. Each figure of the layer is read against these too,
        // not only against jsonwebtoken.
        let signing_input = &token[..token.rfind('.').unwrap()];
        let payload = signing_input.split('.').nth(1).unwrap();
        #[cfg(feature = "aws-lc-rs")]
        {
            let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, SECRET);
            group.bench_function("hmac_alone", |b| {
                b.iter(|| aws_lc_rs::hmac::sign(&key, black_box(signing_input.as_bytes())))
            });
        }
        group.bench_function("base64_alone", |b| {
            b.iter(|| {
                use base64::Engine;
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(black_box(payload))
                    .unwrap()
            })
        });
        // And serde_json alone reading the decoded claims into plain types (the floor's own
        // `PlainClaims`: the registered claims and the app's, no flatten), allocations and
        // frees included: what any reader of these claims pays.
        let json = {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap()
        };
        group.bench_function("json_alone", |b| {
            b.iter(|| serde_json::from_slice::<PlainClaims>(black_box(&json)).unwrap())
        });
        // Tokens used once each, with the cache on: 100 000 of them in turn, four times what
        // the cache holds, so that none is still there when it comes round again.
        let (single_use, _) = mk(true);
        let tokens: Vec<HeaderValue> = (0..100_000)
            .map(|_| {
                let issued = rt
                    .block_on(single_use.create("u1", &user(), SessionMeta::default()))
                    .unwrap();
                HeaderValue::from_str(&format!("Bearer {}", issued.access_token)).unwrap()
            })
            .collect();
        let mut svc = single_use.layer().layer(Hello);
        let mut next = tokens.iter().cycle();
        group.bench_function("layer_cached_single_use", |b| {
            b.iter(|| {
                now(svc.call(request(Some(black_box(next.next().unwrap())))))
                    .unwrap()
                    .status()
            })
        });
        // The same verification with the signing key among ten (nine retired, each named):
        // the key is found by a map lookup on the token's `kid`.
        let mut set = keys.clone().with_kid("current");
        for i in 0..9 {
            let retired = tower_jwt_sessions::Keys::hs256([i as u8 + 1; 32])
                .unwrap()
                .with_kid(format!("retired-{i}"));
            set = set.verifying(retired).unwrap();
        }
        let sessions = in_memory(set).token_cache_bytes(None).build().unwrap();
        let token = rt
            .block_on(sessions.create("u1", &user(), SessionMeta::default()))
            .unwrap()
            .access_token;
        let auth = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        let mut svc = sessions.layer().layer(Hello);
        group.bench_function("layer_10_keys", |b| {
            b.iter(|| {
                now(svc.call(request(Some(black_box(&auth)))))
                    .unwrap()
                    .status()
            })
        });
    }
    group.finish();
}

fn access(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    let mut group = c.benchmark_group("access/base");
    let mut inner = Hello;
    group.bench_function("bare", |b| {
        b.iter(|| now(inner.call(request(None))).unwrap().status())
    });
    let (keys, decoding) = keys(Algorithm::HS256);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 5;
    validation.validate_nbf = true;
    let sessions = in_memory(keys).build().unwrap();
    let issued = rt
        .block_on(sessions.create("u1", &user(), SessionMeta::default()))
        .unwrap();
    // The bare service given the very request the layer gets, `Authorization` header
    // included: what the layer adds is read against this one.
    let auth = HeaderValue::from_str(&format!("Bearer {}", issued.access_token)).unwrap();
    group.bench_function("bare_with_token", |b| {
        b.iter(|| {
            now(inner.call(request(Some(black_box(&auth)))))
                .unwrap()
                .status()
        })
    });
    // Same token, the first signature character changed: a bad signature, always well
    // encoded. (The last character carries padding bits: changing it could give a signature
    // that is not canonical base64url, refused before any HMAC.)
    let mut forged = issued.access_token.clone().into_bytes();
    let at = forged.iter().rposition(|&b| b == b'.').unwrap() + 1;
    forged[at] = if forged[at] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let forged = HeaderValue::from_str(&format!("Bearer {forged}")).unwrap();
    let mut svc = sessions.layer().layer(Hello);
    group.bench_function("layer_rejected_bad_signature", |b| {
        b.iter(|| {
            now(svc.call(request(Some(black_box(&forged)))))
                .unwrap()
                .status()
        })
    });
    group.bench_function("floor_rejected_bad_signature", |b| {
        b.iter(|| floor(&mut inner, &decoding, &validation, black_box(&forged)))
    });
    group.bench_function("layer_no_token", |b| {
        b.iter(|| now(svc.call(request(None))).unwrap().status())
    });
    group.finish();

    for alg in [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        bench_alg(c, alg, &rt);
    }
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = access
}
criterion_main!(benches);
