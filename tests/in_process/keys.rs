//! Key sets: rotation without logging anyone out, the `kid` rules, key confusion through a
//! set, and the JWKS document checked by an independent verifier (jsonwebtoken's `JwkSet`).

use crate::common::client::login;
use crate::common::*;
use http::header::{AUTHORIZATION, CACHE_CONTROL, ETAG, IF_NONE_MATCH};
use http::{Method, Request, StatusCode};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tower_jwt_sessions::defaults;
use tower_jwt_sessions::{ConfigError, Keys, Sessions};

fn ec() -> Keys {
    Keys::ec_pem(
        Algorithm::ES256,
        &key_file("ec_private.pem"),
        &key_file("ec_public.pem"),
    )
    .unwrap()
}

fn rsa() -> Keys {
    Keys::rsa_pem(
        Algorithm::RS256,
        &key_file("rsa_private.pem"),
        &key_file("rsa_public.pem"),
    )
    .unwrap()
}

fn sessions(keys: Keys, backend: &Memory) -> MemorySessions {
    Sessions::builder(keys, backend.clone(), backend.clone())
        .jwks_path(Some(defaults::JWKS_PATH))
        .build()
        .unwrap()
}

async fn send(
    sessions: &MemorySessions,
    req: Request<String>,
) -> (StatusCode, http::HeaderMap, Value) {
    let reply = crate::common::client::send(sessions, req).await;
    (reply.status, reply.headers, reply.body)
}

async fn access(sessions: &MemorySessions, token: &str) -> (StatusCode, Value) {
    let req = Request::get("/me")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(String::new())
        .unwrap();
    let (status, _, body) = send(sessions, req).await;
    (status, body)
}

async fn refresh(sessions: &MemorySessions, token: &str) -> StatusCode {
    let req = Request::post("/sessions/refresh/")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(String::new())
        .unwrap();
    send(sessions, req).await.0
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_rotation_keeps_everyone_logged_in_until_the_old_key_is_dropped() {
    let backend = memory_with_u1();
    let before = sessions(ec(), &backend);
    let old = login(&before).await;
    assert_eq!(header_of(&old.access_token)["alg"], "ES256");

    // The new key signs; the old one still verifies.
    let retired = Keys::ec_public_pem(Algorithm::ES256, &key_file("ec_public.pem")).unwrap();
    let during = sessions(rsa().verifying(retired).unwrap(), &backend);
    assert_eq!(access(&during, &old.access_token).await.0, StatusCode::OK);
    assert_eq!(refresh(&during, &old.refresh_token).await, StatusCode::OK);
    let new = login(&during).await;
    let header = header_of(&new.access_token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], rsa().kids().next().unwrap());
    assert_eq!(access(&during, &new.access_token).await.0, StatusCode::OK);

    // The old key dropped: its tokens end, the new ones live on.
    let after = sessions(rsa(), &backend);
    let (status, body) = access(&after, &old.access_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_description"], "the token names no key of ours");
    assert_eq!(
        refresh(&after, &old.refresh_token).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(access(&after, &new.access_token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_kid_rules_of_a_set() {
    let backend = memory_with_u1();
    let retired = Keys::ec_public_pem(Algorithm::ES256, &key_file("ec_public.pem")).unwrap();
    let ec_kid = retired.kids().next().unwrap().to_owned();
    let set = sessions(rsa().verifying(retired).unwrap(), &backend);
    let signer = jsonwebtoken::EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap();
    let claims = access_claims("u1", "s1", now(), now() + 60);
    let sign = |kid: Option<&str>| {
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.typ = Some("at+jwt".into());
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, &claims, &signer).unwrap()
    };
    let refused = |(status, body): (StatusCode, Value), description: &str| {
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "invalid_token");
        assert_eq!(body["error_description"], description);
    };
    // Unknown kid, and no kid at all in a set of two.
    refused(
        access(&set, &sign(Some("unknown"))).await,
        "the token names no key of ours",
    );
    refused(
        access(&set, &sign(None)).await,
        "the token names no key of ours",
    );
    // A kid naming the ES256 key on an RS256 token: that key's algorithm decides.
    refused(
        access(&set, &sign(Some(&ec_kid))).await,
        "the token algorithm is not accepted",
    );
    // Hostile kids are only ever map keys.
    for kid in ["../../etc/passwd", "' OR 1=1 --", "nul\u{0}byte"] {
        refused(
            access(&set, &sign(Some(kid))).await,
            "the token names no key of ours",
        );
    }
    refused(
        access(&set, &sign(Some(&"k".repeat(10 * 1024)))).await,
        "the token is too long",
    );
}

#[tokio::test]
async fn an_hmac_key_named_by_an_rs256_token_is_key_confusion_refused() {
    let backend = memory_with_u1();
    let keys = Keys::hs256(SECRET)
        .unwrap()
        .with_kid("hmac")
        .verifying(Keys::rsa_public_pem(Algorithm::RS256, &key_file("rsa_public.pem")).unwrap())
        .unwrap();
    let set = Sessions::builder(keys, backend.clone(), backend.clone())
        .build()
        .unwrap();
    let rsa_kid = rsa().kids().next().unwrap().to_owned();
    let claims = access_claims("u1", "s1", now(), now() + 60);
    // RS256 naming the HMAC key, and HS256 signed with the RSA public key's bytes naming
    // the RSA key: each key only ever verifies its own algorithm.
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(rsa_kid);
    let confused = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&key_file("rsa_public.pem")),
    )
    .unwrap();
    let (status, body) = access(&set, &confused).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error_description"],
        "the token algorithm is not accepted"
    );
    let forged = raw_token(
        r#"{"alg":"RS256","typ":"at+jwt","kid":"hmac"}"#,
        &claims.to_string(),
        Some("c2ln"),
        SECRET,
    );
    let (status, body) = access(&set, &forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error_description"],
        "the token algorithm is not accepted"
    );
    // The HMAC key still works for its own tokens, by name.
    let good = login(&set).await;
    assert_eq!(header_of(&good.access_token)["kid"], "hmac");
    assert_eq!(access(&set, &good.access_token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_jwks_document_verifies_our_tokens_in_an_independent_verifier() {
    let backend = memory_with_u1();
    let retired = Keys::ed_public_pem(&key_file("ed_public.pem")).unwrap();
    let set = sessions(rsa().verifying(retired).unwrap(), &backend);
    let req = Request::get(defaults::JWKS_PATH)
        .body(String::new())
        .unwrap();
    let (status, headers, document) = send(&set, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[CACHE_CONTROL], "public, max-age=300");
    let etag = headers[ETAG].clone();

    // Public members only: never `d`, `p`, `q` or a symmetric `k`.
    let keys = document["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{private} published: {key}");
        }
        assert_eq!(key["use"], "sig");
    }
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[1]["kty"], "OKP");

    // jsonwebtoken, reading only the document, verifies a token of ours.
    let jwks: JwkSet = serde_json::from_value(document.clone()).unwrap();
    let issued = login(&set).await;
    let kid = header_of(&issued.access_token)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let jwk = jwks.find(&kid).expect("the signing key is published");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(
        &issued.access_token,
        &DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["sub"], "u1");

    // Conditional GET, HEAD, and nothing else.
    let req = Request::get(defaults::JWKS_PATH)
        .header(IF_NONE_MATCH, etag)
        .body(String::new())
        .unwrap();
    assert_eq!(send(&set, req).await.0, StatusCode::NOT_MODIFIED);
    let req = Request::head(defaults::JWKS_PATH)
        .body(String::new())
        .unwrap();
    let (status, _, body) = send(&set, req).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    let req = Request::builder()
        .method(Method::POST)
        .uri(defaults::JWKS_PATH)
        .body(String::new())
        .unwrap();
    let (status, headers, _) = send(&set, req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers["allow"], "GET, HEAD");
}

#[test]
fn a_jwks_document_never_publishes_an_hmac_secret() {
    let err = in_memory(Keys::hs256(SECRET).unwrap())
        .jwks_path(Some(defaults::JWKS_PATH))
        .build()
        .unwrap_err();
    assert_eq!(err, ConfigError::SymmetricKeyInJwks);
    // And a set of public keys alone cannot issue sessions.
    let err =
        in_memory(Keys::rsa_public_pem(Algorithm::RS256, &key_file("rsa_public.pem")).unwrap())
            .build()
            .unwrap_err();
    assert_eq!(err, ConfigError::NoSigningKey);
}
