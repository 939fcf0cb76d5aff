//! Two example servers on different ports, one Redis, one secret, over real HTTP: a session
//! made on one refreshes on the other; a revocation on one is honoured by the other within a
//! second, refresh and access token; the backend killed gives 503 on both, and both serve
//! again by themselves when it is back; every 503 carries `Retry-After`. The Redis is a
//! private `redis-server` on a free port.
//! Behind the `redis` feature.
#![cfg(feature = "redis")]

use std::time::Duration;

use crate::common::nodes::{PrivateRedis, within};

use reqwest::{Client, StatusCode};
use serde_json::Value;
use tower_jwt_sessions::RedisBackend;

const SECRET: &[u8] = b"example-instances-secret-32-bytes!!";

async fn serve(url: &str) -> String {
    let backend = crate::backend::AnyBackend::Redis(RedisBackend::connect(url).await.unwrap());
    let keys = tower_jwt_sessions::Keys::hs256(SECRET).unwrap();
    let (app, _sessions) =
        crate::app::app_tuned(keys, crate::app::Tuning::default(), backend).unwrap();
    crate::common::serve(app).await
}

async fn status(client: &Client, method: reqwest::Method, url: String, token: &str) -> StatusCode {
    client
        .request(method, url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn two_example_servers_share_one_redis() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let redis = PrivateRedis::start(port);
    let url = format!("redis://127.0.0.1:{port}");
    let (one, two) = (serve(&url).await, serve(&url).await);
    let client = Client::new();
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;

    let login: Value = client
        .post(format!("{one}/sessions/"))
        .basic_auth("testUser", Some(crate::app::PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (access, refresh, id) = (
        login["access_token"].as_str().unwrap().to_owned(),
        login["refresh_token"].as_str().unwrap().to_owned(),
        login["session_id"].as_str().unwrap().to_owned(),
    );
    // Made on one, refreshed and used on the other.
    assert_eq!(
        status(
            &client,
            post.clone(),
            format!("{two}/sessions/refresh/"),
            &refresh
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        status(&client, get.clone(), format!("{two}/me"), &access).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&client, get.clone(), format!("{one}/me"), &access).await,
        StatusCode::OK
    );

    // Revoked on one: refused by the other within a second, both tokens.
    assert_eq!(
        status(
            &client,
            reqwest::Method::DELETE,
            format!("{one}/sessions/{id}"),
            &access
        )
        .await,
        StatusCode::NO_CONTENT
    );
    assert!(
        within(Duration::from_secs(1), async || {
            status(&client, get.clone(), format!("{two}/me"), &access).await
                == StatusCode::UNAUTHORIZED
        })
        .await
        .is_some()
    );
    assert_eq!(
        status(
            &client,
            post.clone(),
            format!("{two}/sessions/refresh/"),
            &refresh
        )
        .await,
        StatusCode::UNAUTHORIZED
    );

    // The backend killed: 503 on both, for a login and for an access token (whose session
    // cannot be vouched for while the revocation feed is down).
    let fresh: Value = client
        .post(format!("{two}/sessions/"))
        .basic_auth("testUser", Some(crate::app::PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh_access = fresh["access_token"].as_str().unwrap().to_owned();
    drop(redis);
    for base in [&one, &two] {
        let res = client
            .post(format!("{base}/sessions/"))
            .basic_auth("testUser", Some(crate::app::PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            within(Duration::from_secs(5), async || {
                status(&client, get.clone(), format!("{base}/me"), &fresh_access).await
                    == StatusCode::SERVICE_UNAVAILABLE
            })
            .await
            .is_some(),
            "{base}: an access token was served while the backend and the feed were down"
        );
    }

    // Back (empty: it keeps nothing): both serve again without a restart.
    let _redis = PrivateRedis::start(port);
    for base in [&one, &two] {
        assert!(
            within(Duration::from_secs(10), async || {
                client
                    .post(format!("{base}/sessions/"))
                    .basic_auth("testUser", Some(crate::app::PASSWORD))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    == StatusCode::CREATED
            })
            .await
            .is_some(),
            "{base} did not recover"
        );
    }
    let again: Value = client
        .post(format!("{one}/sessions/"))
        .basic_auth("testUser", Some(crate::app::PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let again_access = again["access_token"].as_str().unwrap().to_owned();
    assert!(
        within(Duration::from_secs(5), async || {
            status(&client, get.clone(), format!("{two}/me"), &again_access).await == StatusCode::OK
        })
        .await
        .is_some()
    );
}

/// Issue 17, item 9: a session id that cannot be one of ours (a NUL, too long, not hex) is a
/// 404 before any backend call, on every backend; Postgres used to answer 503 ("store
/// unavailable") for `%00`, so any signed-in user could make backend errors at will.
#[tokio::test]
async fn an_id_that_cannot_be_a_session_is_404_on_every_backend() {
    // Its keys are deleted when the test ends.
    let prefix = crate::common::redis_keys::prefix();
    let mut backends = vec![
        (
            "memory",
            crate::backend::AnyBackend::Memory(Default::default()),
            None,
        ),
        (
            "redis",
            crate::backend::AnyBackend::Redis(
                RedisBackend::builder(crate::common::redis_keys::url())
                    .key_prefix(&*prefix)
                    .connect()
                    .await
                    .unwrap(),
            ),
            None,
        ),
    ];
    #[cfg(feature = "postgres")]
    {
        let (backend, schema) = postgres_backend().await;
        backends.push(("postgres", backend, Some(schema)));
    }
    let client = Client::new();
    for (name, backend, schema) in backends {
        let keys = tower_jwt_sessions::Keys::hs256(SECRET).unwrap();
        let (app, _sessions) =
            crate::app::app_tuned(keys, crate::app::Tuning::default(), backend).unwrap();
        let base = crate::common::serve(app).await;
        let login: Value = client
            .post(format!("{base}/sessions/"))
            .basic_auth("testUser", Some(crate::app::PASSWORD))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (access, id) = (
            login["access_token"].as_str().unwrap().to_owned(),
            login["session_id"].as_str().unwrap().to_owned(),
        );
        let delete = reqwest::Method::DELETE;
        for odd in [
            "%00".to_owned(),
            format!("{id}%00"),
            format!("{id}0"),
            id.to_uppercase(),
            "x".repeat(4000),
            "%C3%A9".repeat(16),
        ] {
            let url = format!("{base}/sessions/{odd}");
            let got = status(&client, delete.clone(), url, &access).await;
            assert_eq!(got, StatusCode::NOT_FOUND, "{name}: DELETE /sessions/{odd}");
        }
        // The session itself is untouched, and its own id still ends it.
        assert_eq!(
            status(&client, reqwest::Method::GET, format!("{base}/me"), &access).await,
            StatusCode::OK,
            "{name}"
        );
        let url = format!("{base}/sessions/{id}");
        assert_eq!(
            status(&client, delete.clone(), url, &access).await,
            StatusCode::NO_CONTENT,
            "{name}"
        );
        drop(schema);
    }
}

/// The example's Postgres backend in a schema of its own, dropped with the returned guard.
#[cfg(feature = "postgres")]
async fn postgres_backend() -> (crate::backend::AnyBackend, crate::common::pg::Schema) {
    let schema = crate::common::pg::Schema::new();
    let backend = crate::common::pg::backend_at(&crate::common::pg::url(), &schema).await;
    (crate::backend::AnyBackend::Postgres(backend), schema)
}

#[tokio::test]
async fn every_503_of_the_example_carries_retry_after() {
    let redis = PrivateRedis::start(PrivateRedis::free_port());
    let base = serve(&redis.url()).await;
    let login = log_in(&base, "testUser").await;
    drop(redis);
    every_503_carries_retry_after(&base, &login).await;
}

/// `POST /sessions/` as `user` (password `testPassword`): the example's login answer.
pub(crate) async fn log_in(base: &str, user: &str) -> Value {
    Client::new()
        .post(format!("{base}/sessions/"))
        .basic_auth(user, Some(crate::app::PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// With the backend gone: every route of the example, the app's own handlers and the layer's,
/// answers 503 with `Retry-After`, never a 401 or a 500.
pub(crate) async fn every_503_carries_retry_after(base: &str, login: &Value) {
    let client = Client::new();
    let access = login["access_token"].as_str().unwrap();
    let refresh = login["refresh_token"].as_str().unwrap();
    let id = login["session_id"].as_str().unwrap();
    // The login is the app's own handler; the others are answered by the handler or, once
    // the revocation feed is known to be down, by the layer: a 503 with `Retry-After` either
    // way, never a 401 or a 500.
    let requests = [
        client
            .post(format!("{base}/sessions/"))
            .basic_auth("testUser", Some(crate::app::PASSWORD)),
        client
            .post(format!("{base}/sessions/refresh/"))
            .bearer_auth(refresh),
        client.get(format!("{base}/sessions/")).bearer_auth(access),
        client
            .delete(format!("{base}/sessions/{id}"))
            .bearer_auth(access),
        client
            .delete(format!("{base}/sessions/others"))
            .bearer_auth(access),
        client
            .delete(format!("{base}/sessions/"))
            .bearer_auth(access),
    ];
    for request in requests {
        let res = request.send().await.unwrap();
        let url = res.url().to_string();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{url}");
        assert_eq!(
            res.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"1"[..]),
            "{url}"
        );
        assert!(res.headers().get("www-authenticate").is_none(), "{url}");
    }
}
