//! The attack suite: what the most trusted JWT libraries test (jsonwebtoken, golang-jwt,
//! PyJWT, panva/jose) plus what is specific to sessions, each through the layer, each
//! asserting the exact status and challenge.

use crate::common::client::{Reply, get, login, refresh, send};
use crate::common::*;
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tower_jwt_sessions::Keys;

const INVALID_TOKEN: &str = "invalid_token";

#[track_caller]
fn assert_refused(reply: &Reply, code: &str, what: &str) {
    let status = match code {
        "invalid_request" => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    assert_eq!(reply.status, status, "{what}");
    assert!(
        reply.challenge.starts_with("Bearer ")
            && reply.challenge.contains(&format!("error=\"{code}\"")),
        "{what}: {}",
        reply.challenge
    );
    assert_eq!(reply.body["error"], code, "{what}");
}

#[track_caller]
fn assert_accepted(reply: &Reply, what: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{what}: {:?}", reply.body);
}

fn hs256() -> MemorySessions {
    in_memory(Keys::hs256(SECRET).unwrap()).build().unwrap()
}

fn claims() -> Value {
    access_claims("u1", "s1", now(), now() + 600)
}

fn at_header(alg: &str) -> String {
    format!(r#"{{"alg":"{alg}","typ":"at+jwt"}}"#)
}

fn good(payload: &Value) -> String {
    sign(&header(Algorithm::HS256, "at+jwt"), payload, SECRET)
}

#[tokio::test]
async fn alg_none_in_every_letter_case_with_and_without_signature() {
    let sessions = hs256();
    let payload = claims().to_string();
    for alg in ["none", "None", "NONE", "nOnE", "NoNe"] {
        for signature in ["", "c2lnbmF0dXJl"] {
            let token = raw_token(&at_header(alg), &payload, Some(signature), SECRET);
            assert_refused(&get(&sessions, &token).await, INVALID_TOKEN, alg);
            let unsigned = token.trim_end_matches('.');
            assert_refused(&get(&sessions, unsigned).await, INVALID_TOKEN, alg);
        }
    }
}

#[tokio::test]
async fn hmac_signed_with_a_public_key_is_refused_key_confusion() {
    for (alg, private, public) in [
        (Algorithm::RS256, "rsa_private.pem", "rsa_public.pem"),
        (Algorithm::ES256, "ec_private.pem", "ec_public.pem"),
    ] {
        let keys = match alg {
            Algorithm::RS256 => Keys::rsa_pem(alg, &key_file(private), &key_file(public)),
            _ => Keys::ec_pem(alg, &key_file(private), &key_file(public)),
        }
        .unwrap();
        let sessions = in_memory(keys).build().unwrap();
        // The attacker knows the public key and uses its bytes as an HMAC secret.
        let forged = raw_token(
            &at_header("HS256"),
            &claims().to_string(),
            None,
            &key_file(public),
        );
        let reply = get(&sessions, &forged).await;
        assert_refused(&reply, INVALID_TOKEN, "key confusion");
        assert_eq!(
            reply.body["error_description"],
            "the token algorithm is not accepted"
        );
        // And a genuine token of the configured algorithm passes.
        let issued = login(&sessions).await;
        assert_accepted(&get(&sessions, &issued.access_token).await, "genuine");
    }
}

#[tokio::test]
async fn algorithms_off_the_allow_list_and_wrong_key_families() {
    let sessions = hs256();
    for alg in [Algorithm::HS384, Algorithm::HS512] {
        let token = sign(&header(alg, "at+jwt"), &claims(), SECRET);
        assert_refused(&get(&sessions, &token).await, INVALID_TOKEN, "hs384/512");
    }
    // RS256 signed with a real RSA key, where ES256 is configured.
    let es = in_memory(
        Keys::ec_pem(
            Algorithm::ES256,
            &key_file("ec_private.pem"),
            &key_file("ec_public.pem"),
        )
        .unwrap(),
    )
    .build()
    .unwrap();
    let rsa = EncodingKey::from_rsa_pem(&key_file("rsa_private.pem")).unwrap();
    let token = jsonwebtoken::encode(&header(Algorithm::RS256, "at+jwt"), &claims(), &rsa).unwrap();
    assert_refused(&get(&es, &token).await, INVALID_TOKEN, "wrong family");
    // An algorithm name that does not exist, and one in the wrong case.
    for alg in ["HS257", "hs256", "Hs256", ""] {
        let token = raw_token(&at_header(alg), &claims().to_string(), None, SECRET);
        assert_refused(&get(&sessions, &token).await, INVALID_TOKEN, alg);
    }
}

#[tokio::test]
async fn missing_and_extra_parts() {
    let sessions = hs256();
    let token = good(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let dots = ".".repeat(10_000);
    let cases = [
        parts[0].to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{}.{}.", parts[0], parts[1]),
        format!(".{}.{}", parts[1], parts[2]),
        format!("{}..{}", parts[0], parts[2]),
        format!("{token}.{}", parts[2]),
        format!("{token}."),
        dots.clone(),
        format!("{}{dots}{}", parts[0], parts[2]),
    ];
    for case in &cases {
        assert_refused(&get(&sessions, case).await, INVALID_TOKEN, case);
    }
}

#[tokio::test]
async fn invalid_base64_utf8_and_json() {
    let sessions = hs256();
    let token = good(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let cases = vec![
        // Standard-alphabet base64 and padding are not base64url.
        format!("{}.{}+.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}/.{}", parts[0], parts[1], parts[2]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}=", parts[0], parts[1], parts[2]),
        // A base64url length that cannot be (4n+1 characters).
        format!("{}.{}A.{}", parts[0], parts[1], parts[2]),
        // Non-UTF-8 and invalid JSON, correctly signed.
        raw_token_bytes(b"\xff\xfe\xfd", claims().to_string().as_bytes(), SECRET),
        raw_token_bytes(
            at_header("HS256").as_bytes(),
            b"\xff\xfe{\"exp\":1}",
            SECRET,
        ),
        raw_token_bytes(
            b"{\"alg\":\"HS256\",",
            claims().to_string().as_bytes(),
            SECRET,
        ),
        raw_token_bytes(at_header("HS256").as_bytes(), b"{\"sub\":", SECRET),
        raw_token_bytes(at_header("HS256").as_bytes(), b"[]", SECRET),
        raw_token_bytes(b"[]", claims().to_string().as_bytes(), SECRET),
    ];
    for case in &cases {
        assert_refused(&get(&sessions, case).await, INVALID_TOKEN, case);
    }
}

#[tokio::test]
async fn tampered_signatures() {
    let sessions = hs256();
    let token = good(&claims());
    let (message, signature) = token.rsplit_once('.').unwrap();
    let other = hmac_sha256(OTHER_SECRET, message.as_bytes());
    let cases = [
        format!("{message}.{}", &signature[..signature.len() - 2]), // truncated
        format!("{message}.{signature}AAAA"),                       // too long
        format!("{message}.{other}"),                               // another secret
        format!("{message}.{}", "A".repeat(signature.len())),       // zeros
    ];
    for case in &cases {
        assert_refused(&get(&sessions, case).await, INVALID_TOKEN, case);
    }
    assert_accepted(&get(&sessions, &token).await, "untouched");
}

#[tokio::test]
async fn duplicate_claim_names_are_refused() {
    let sessions = hs256();
    let body = claims().to_string();
    let inner = body.trim_start_matches('{').trim_end_matches('}');
    let cases = [
        format!("{{\"exp\":{},{inner}}}", now() + 99_999),
        format!("{{\"sub\":\"admin\",{inner}}}"),
        format!("{{\"token_use\":\"refresh\",{inner}}}"),
        format!(
            "{{{inner},\"user\":{{\"id\":\"x\",\"name\":\"x\",\"active\":true,\"read\":true,\"write\":true,\"type\":\"project\"}}}}"
        ),
    ];
    for case in &cases {
        let token = raw_token(&at_header("HS256"), case, None, SECRET);
        assert_refused(&get(&sessions, &token).await, INVALID_TOKEN, case);
    }
    // A duplicated header parameter too.
    let token = raw_token(
        r#"{"alg":"HS256","typ":"at+jwt","typ":"at+jwt"}"#,
        &body,
        None,
        SECRET,
    );
    assert_refused(
        &get(&sessions, &token).await,
        INVALID_TOKEN,
        "duplicate typ",
    );
}

#[tokio::test]
async fn exp_and_nbf_types_presence_and_leeway() {
    let sessions = hs256(); // leeway 5 s
    let t = now();
    let with = |key: &str, value: Value| {
        let mut c = claims();
        c[key] = value;
        good(&c)
    };
    let bad = [
        ("string exp", with("exp", json!((t + 600).to_string()))),
        ("float exp", with("exp", json!(t as f64 + 600.5))),
        ("negative exp", with("exp", json!(-1))),
        ("null exp", with("exp", Value::Null)),
        ("string nbf", with("nbf", json!(t.to_string()))),
        ("float nbf", with("nbf", json!(t as f64 - 0.5))),
        ("nbf in the future", with("nbf", json!(t + 60))),
        ("exp just outside the leeway", with("exp", json!(t - 7))),
        ("iat as string", with("iat", json!("now"))),
    ];
    for (what, token) in &bad {
        assert_refused(&get(&sessions, token).await, INVALID_TOKEN, what);
    }
    let mut no_exp = claims();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_refused(
        &get(&sessions, &good(&no_exp)).await,
        INVALID_TOKEN,
        "no exp",
    );

    let fine = [
        ("exp just inside the leeway", with("exp", json!(t - 3))),
        ("nbf inside the leeway", with("nbf", json!(t + 3))),
        ("nbf in the past", with("nbf", json!(t - 60))),
    ];
    for (what, token) in &fine {
        assert_accepted(&get(&sessions, token).await, what);
    }
}

#[tokio::test]
async fn crit_kid_jku_x5u_and_embedded_jwk() {
    let sessions = hs256();
    let payload = claims().to_string();
    let ours = |header: &str| raw_token(header, &payload, None, SECRET);
    let theirs = |header: &str| raw_token(header, &payload, None, OTHER_SECRET);

    for crit in [r#"["exp"]"#, r#"["b64"]"#, r#"["x-unknown"]"#, "[]"] {
        let header = format!(r#"{{"alg":"HS256","typ":"at+jwt","crit":{crit}}}"#);
        let reply = get(&sessions, &ours(&header)).await;
        assert_refused(&reply, INVALID_TOKEN, crit);
        assert_eq!(
            reply.body["error_description"],
            "the token has critical header parameters"
        );
    }

    // `kid`, `jku`, `x5u` and `jwk` never choose the key: with our key the token passes,
    // with the attacker's key it fails whatever they point at.
    for extra in [
        r#""kid":"../../../../dev/null""#,
        r#""kid":"x' UNION SELECT 'secret' --""#,
        r#""kid":"\u0000""#,
        r#""jku":"https://attacker.example/jwks.json""#,
        r#""x5u":"https://attacker.example/cert.pem""#,
        r#""jwk":{"kty":"oct","k":"YW5vdGhlci1zZWNyZXQtdGhhdC1pcy0zMi1ieXRlcy1sb25nIQ"}"#,
    ] {
        let header = format!(r#"{{"alg":"HS256","typ":"at+jwt",{extra}}}"#);
        assert_accepted(&get(&sessions, &ours(&header)).await, extra);
        assert_refused(
            &get(&sessions, &theirs(&header)).await,
            INVALID_TOKEN,
            extra,
        );
    }
}

#[tokio::test]
async fn token_kinds_never_cross_even_re_signed() {
    let (sessions, issued) = signed_in().await;
    assert_refused(
        &refresh(&sessions, &issued.access_token).await,
        INVALID_TOKEN,
        "access on refresh",
    );
    assert_refused(
        &get(&sessions, &issued.refresh_token).await,
        INVALID_TOKEN,
        "refresh on access",
    );

    // Someone with the key swaps the typ: the token_use claim still gives it away.
    let access = claims();
    let as_refresh = sign(&header(Algorithm::HS256, "refresh+jwt"), &access, SECRET);
    assert_refused(
        &refresh(&sessions, &as_refresh).await,
        INVALID_TOKEN,
        "access claims, refresh typ",
    );
    let refresh_claims = json!({"sub": "u1", "sid": issued.session_id, "gen": 0,
        "iat": now(), "exp": now() + 600, "token_use": "refresh"});
    let as_access = sign(&header(Algorithm::HS256, "at+jwt"), &refresh_claims, SECRET);
    assert_refused(
        &get(&sessions, &as_access).await,
        INVALID_TOKEN,
        "refresh claims, access typ",
    );
    // No typ, or the generic `JWT`, is neither kind.
    for typ in [r#""typ":"JWT","#, ""] {
        let header = format!(r#"{{{typ}"alg":"HS256"}}"#);
        let token = raw_token(&header, &claims().to_string(), None, SECRET);
        assert_refused(&get(&sessions, &token).await, INVALID_TOKEN, typ);
    }
}

#[tokio::test]
async fn other_issuer_or_audience() {
    let strict = in_memory(Keys::hs256(SECRET).unwrap())
        .issuer("https://auth.example")
        .audience("pets")
        .build()
        .unwrap();
    let with = |iss: Value, aud: Value| {
        let mut c = claims();
        c["iss"] = iss;
        c["aud"] = aud;
        good(&c)
    };
    let bad = [
        (
            "other aud",
            with(json!("https://auth.example"), json!("billing")),
        ),
        (
            "other aud list",
            with(json!("https://auth.example"), json!(["billing", "x"])),
        ),
        (
            "other iss",
            with(json!("https://evil.example"), json!("pets")),
        ),
        ("no iss", with(Value::Null, json!("pets"))),
        (
            "aud as number",
            with(json!("https://auth.example"), json!(7)),
        ),
    ];
    for (what, token) in &bad {
        assert_refused(&get(&strict, token).await, INVALID_TOKEN, what);
    }
    assert_accepted(
        &get(
            &strict,
            &with(json!("https://auth.example"), json!(["billing", "pets"])),
        )
        .await,
        "aud list naming us",
    );
    // A token naming an audience is refused where none is configured (RFC 7519 §4.1.3).
    assert_refused(
        &get(&hs256(), &with(Value::Null, json!("pets"))).await,
        INVALID_TOKEN,
        "aud where none is configured",
    );
}

#[tokio::test]
async fn tokens_twice_several_headers_and_oversized_headers() {
    let sessions = hs256();
    let token = good(&claims());
    let req = Request::get(format!("/me?access_token={token}"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(String::new())
        .unwrap();
    assert_refused(
        &send(&sessions, req).await,
        "invalid_request",
        "header and query",
    );
    let req = Request::get(format!("/me?x=1&access_token={token}"))
        .body(String::new())
        .unwrap();
    assert_refused(&send(&sessions, req).await, "invalid_request", "query only");

    let mut req = Request::get("/me").body(String::new()).unwrap();
    for value in [format!("Bearer {token}"), "Basic dTpw".to_owned()] {
        req.headers_mut()
            .append(AUTHORIZATION, HeaderValue::from_str(&value).unwrap());
    }
    assert_refused(
        &send(&sessions, req).await,
        "invalid_request",
        "two headers",
    );

    for size in [8 * 1024 + 1, 64 * 1024, 1024 * 1024] {
        let reply = get(&sessions, &"a".repeat(size)).await;
        assert_refused(&reply, INVALID_TOKEN, "oversized");
        assert_eq!(reply.body["error_description"], "the token is too long");
    }
}

#[tokio::test]
async fn refresh_tokens_of_revoked_sessions_deleted_and_inactive_users() {
    let (sessions, issued) = signed_in().await;
    assert_accepted(&refresh(&sessions, &issued.refresh_token).await, "before");
    sessions.revoke(&issued.session_id).await.unwrap();
    assert_refused(
        &refresh(&sessions, &issued.refresh_token).await,
        INVALID_TOKEN,
        "revoked",
    );

    let (sessions, issued) = signed_in().await;
    sessions.users().remove_user("u1");
    assert_refused(
        &refresh(&sessions, &issued.refresh_token).await,
        INVALID_TOKEN,
        "deleted user",
    );

    let (sessions, issued) = signed_in().await;
    sessions
        .users()
        .set_user("u1", user("u1", false, true, true));
    assert_refused(
        &refresh(&sessions, &issued.refresh_token).await,
        INVALID_TOKEN,
        "inactive user",
    );
}

#[tokio::test]
async fn garbage_headers_never_5xx() {
    let sessions = hs256();
    let values: Vec<&[u8]> = vec![
        b"Bearer",
        b"Bearer ",
        b"bearer\t.",
        b"Bearer \x80\x81",
        b"Bearer \"quoted\"",
        b"Bearer a,b",
        b"Bearer a b c",
        b"Digest username=x",
        b"\x7fBearer x",
    ];
    for value in values {
        let mut req = Request::get("/me").body(String::new()).unwrap();
        if let Ok(value) = HeaderValue::from_bytes(value) {
            req.headers_mut().insert(AUTHORIZATION, value);
        }
        let reply = send(&sessions, req).await;
        assert!(
            reply.status.is_client_error(),
            "{value:?}: {}",
            reply.status
        );
        assert!(reply.challenge.starts_with("Bearer"), "{value:?}");
    }
}
