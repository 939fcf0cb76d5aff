//! The Redis backend against a real Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`):
//! the backend contract, two instances sharing it, a revocation made while an instance's feed
//! was cut or before it started, and lost from the log (deleted, trimmed, `XDEL`) meanwhile
//! or before an instance started, and a private `redis-server` killed and restarted.
//! Behind the `redis` feature: `cargo test --features redis` (`.ci/run` starts Redis).
#![cfg(feature = "redis")]

use std::time::{Duration, Instant};

use crate::common::nodes::*;
use crate::common::redis_keys::{prefix, url};
use crate::common::*;
use http::StatusCode;
use tower_jwt_sessions::{Keys, RedisBackend, SessionMeta};
use tower_jwt_sessions_core::suite;

async fn backend_at(url: &str, prefix: &str) -> RedisBackend {
    RedisBackend::builder(url)
        .key_prefix(prefix)
        .connect()
        .await
        .expect("Redis answers (start it, or set REDIS_URL)")
}

#[tokio::test]
async fn the_redis_backend_keeps_the_backend_contract() {
    let prefix = prefix();
    let backend = backend_at(&url(), &prefix).await;
    suite::check_backend(&backend).await;
    suite::check_rotation(&backend).await;
    suite::check_replay(&backend).await;
}

#[tokio::test]
async fn a_retired_token_replayed_on_an_instance_with_a_stale_cache_ends_the_session() {
    let (url, prefix, users) = (url(), prefix(), users());
    let a = instance(backend_at(&url, &prefix).await, &users);
    let b = instance(backend_at(&url, &prefix).await, &users);
    a_retired_token_replayed_on_a_stale_instance_ends_the_session(&a, &b).await;
}

#[tokio::test]
async fn a_revocation_on_one_instance_stops_both_tokens_on_the_other_within_a_second() {
    let (url, prefix, users) = (url(), prefix(), users());
    let a = instance(backend_at(&url, &prefix).await, &users);
    let b = instance(backend_at(&url, &prefix).await, &users);
    a_revocation_on_one_instance_reaches_the_other_within_a_second(&a, &b).await;
}

#[tokio::test]
async fn a_revocation_made_while_the_feed_was_cut_is_honoured_after_the_resync() {
    let (url, prefix, users) = (url(), prefix(), users());
    let a = instance(backend_at(&url, &prefix).await, &users);
    let b = instance(backend_at(&url, &prefix).await, &users);
    let tokens = login(&a).await;
    assert_eq!(access(&a, &tokens).await, StatusCode::OK);

    // Cut the feeds, and revoke while they reconnect.
    let mut admin = admin(&url).await;
    assert_eq!(
        cut_feeds(&mut admin, &prefix).await,
        2,
        "one feed per instance"
    );
    assert!(b.revoke(&tokens.session_id).await.unwrap());
    let seen = within(Duration::from_secs(3), async || {
        access(&a, &tokens).await == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(seen.is_some(), "the revocation was lost with the feed");
}

async fn admin(url: &str) -> redis::aio::MultiplexedConnection {
    let admin = redis::Client::open(url).unwrap();
    admin.get_multiplexed_async_connection().await.unwrap()
}

/// Cuts the feed connections of this test's instances (named after the prefix; other tests'
/// connections are left alone); how many.
async fn cut_feeds(admin: &mut redis::aio::MultiplexedConnection, prefix: &str) -> usize {
    let clients: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(admin)
        .await
        .unwrap();
    let feed = format!("name={prefix}-feed");
    let ids: Vec<&str> = clients
        .lines()
        .filter(|line| line.split(' ').any(|field| field == feed))
        .filter_map(|line| line.split(' ').find_map(|f| f.strip_prefix("id=")))
        .collect();
    for id in &ids {
        let _: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query_async(admin)
            .await
            .unwrap();
    }
    ids.len()
}

/// Waits until the instance has reconnected its feed and replayed the log.
async fn resynced<S: tower_jwt_sessions::SessionBackend>(node: &Node<S>) {
    // Long enough for a cut feed to have been noticed, short of its reconnection.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let up = within(Duration::from_secs(5), async || node.revocation_feed_up()).await;
    assert!(up.is_some(), "the feed did not come back");
}

/// A revocation made on B while A's feed is cut, then lost from the log by `lose`; A, back,
/// must refuse the session's access token (it served it before).
async fn lost_while_cut(lose: &[&str]) {
    let (url, prefix, users) = (url(), prefix(), users());
    let a = instance(backend_at(&url, &prefix).await, &users);
    let b = instance(backend_at(&url, &prefix).await, &users);
    let tokens = login(&a).await;
    resynced(&a).await;
    assert_eq!(access(&a, &tokens).await, StatusCode::OK);

    let mut admin = admin(&url).await;
    assert_eq!(cut_feeds(&mut admin, &prefix).await, 2);
    assert!(b.revoke(&tokens.session_id).await.unwrap());
    let log = format!("{{{}}}:revoked", &*prefix);
    let mut command = redis::cmd(lose[0]);
    command.arg(&log);
    if lose[0] == "XDEL" {
        let newest: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(&log)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut admin)
            .await
            .unwrap();
        command.arg(&newest.ids[0].id);
    }
    command.arg(&lose[1..]);
    let _: i64 = command.query_async(&mut admin).await.unwrap();
    resynced(&a).await;
    assert_eq!(
        access(&a, &tokens).await,
        StatusCode::UNAUTHORIZED,
        "the revocation was lost with the log ({})",
        lose.join(" ")
    );
    // Fail closed, not shut: a live session is read from the backend and served.
    let live = login(&b).await;
    assert_eq!(access(&a, &live).await, StatusCode::OK);
}

#[tokio::test]
async fn a_revocation_lost_with_the_deleted_log_while_the_feed_was_cut_is_honoured() {
    lost_while_cut(&["DEL"]).await;
}

#[tokio::test]
async fn a_revocation_trimmed_from_the_log_while_the_feed_was_cut_is_honoured() {
    lost_while_cut(&["XTRIM", "MAXLEN", "0"]).await;
}

#[tokio::test]
async fn a_revocation_deleted_from_the_log_while_the_feed_was_cut_is_honoured() {
    lost_while_cut(&["XDEL"]).await;
}

#[tokio::test]
async fn an_instance_started_after_the_log_was_deleted_refuses_a_session_revoked_before() {
    let (url, prefix, users) = (url(), prefix(), users());
    let a = instance(backend_at(&url, &prefix).await, &users);
    let tokens = login(&a).await;
    let live = login(&a).await;
    resynced(&a).await;
    assert!(a.revoke(&tokens.session_id).await.unwrap());
    let _: i64 = redis::cmd("DEL")
        .arg(format!("{{{}}}:revoked", &*prefix))
        .query_async(&mut admin(&url).await)
        .await
        .unwrap();
    let c = instance(backend_at(&url, &prefix).await, &users);
    resynced(&c).await;
    assert_eq!(access(&c, &tokens).await, StatusCode::UNAUTHORIZED);
    assert_eq!(access(&c, &live).await, StatusCode::OK);
}

#[tokio::test]
async fn a_fresh_log_is_complete_and_the_feed_trusted() {
    let (url, prefix, users) = (url(), prefix(), users());
    let a = instance(backend_at(&url, &prefix).await, &users);
    let tokens = login(&a).await;
    resynced(&a).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let marker: String = redis::cmd("GET")
        .arg(format!("{{{}}}:log-since", &*prefix))
        .query_async(&mut admin(&url).await)
        .await
        .unwrap();
    assert_eq!(marker, "0", "a first use loses nothing");
    // Trusted: the access token is served without reading the backend, so a row deleted
    // behind the layer's back (no log entry) goes unnoticed, as it should on the fast path.
    let _: i64 = redis::cmd("DEL")
        .arg(format!("{{{}}}:s:{}", &*prefix, tokens.session_id))
        .query_async(&mut admin(&url).await)
        .await
        .unwrap();
    assert_eq!(access(&a, &tokens).await, StatusCode::OK);
}

#[tokio::test]
async fn an_instance_started_after_a_revocation_honours_it() {
    let (url, prefix, users) = (url(), prefix(), users());
    let a = instance(backend_at(&url, &prefix).await, &users);
    let start = async || instance(backend_at(&url, &prefix).await, &users);
    a_revocation_before_an_instance_starts_is_honoured_by_it(&a, start).await;
}

#[tokio::test]
async fn a_dead_redis_is_503_in_time_and_a_restarted_one_serves_again() {
    let port = PrivateRedis::free_port();
    let server = PrivateRedis::start(port);
    let users = users();
    let prefix = prefix();
    let a = instance(backend_at(&server.url(), &prefix).await, &users);
    let before = login(&a).await;
    assert_eq!(
        refresh_with(&a, &before.refresh_token).await.0,
        StatusCode::OK
    );

    drop(server);
    // A session this instance never loaded needs the backend: 503 within the timeout.
    let other = in_memory(Keys::hs256(SECRET).unwrap())
        .build()
        .unwrap()
        .create("u1", &u1(), SessionMeta::default())
        .await
        .unwrap();
    let start = Instant::now();
    let (status, _) = refresh_with(&a, &other.refresh_token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(a.create("u1", &u1(), SessionMeta::default()).await.is_err());

    // Back on the same port (empty: it keeps nothing): the same instance serves again.
    let _server = PrivateRedis::start(port);
    let recovered = within(Duration::from_secs(5), async || {
        a.create("u1", &u1(), SessionMeta::default()).await.is_ok()
    })
    .await;
    assert!(recovered.is_some(), "the backend did not reconnect");
    let after = login(&a).await;
    assert_eq!(
        refresh_with(&a, &after.refresh_token).await.0,
        StatusCode::OK
    );
    assert_eq!(access(&a, &after).await, StatusCode::OK);
}

#[tokio::test]
async fn an_idle_connection_closed_by_the_server_fails_no_request() {
    let server = PrivateRedis::start(PrivateRedis::free_port());
    let admin = redis::Client::open(server.url()).unwrap();
    let mut admin = admin.get_multiplexed_async_connection().await.unwrap();
    let users = users();
    let prefix = prefix();
    let a = instance(backend_at(&server.url(), &prefix).await, &users);
    let tokens = login(&a).await;
    // The server now closes every connection idle for a second, ours included.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("timeout")
        .arg(1)
        .query_async(&mut admin)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut token = tokens.refresh_token.clone();
    for _ in 0..5 {
        let (status, rotated) = refresh_with(&a, &token).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "a request failed after the idle close"
        );
        token = rotated.unwrap();
        assert!(a.create("u1", &u1(), SessionMeta::default()).await.is_ok());
    }
}

#[tokio::test]
async fn a_dpop_proof_is_accepted_once_across_instances_and_a_dead_backend_is_503() {
    let idp = crate::common::idp::Idp::start();
    let users = users();
    let prefix = prefix();
    let a = dpop_instance(backend_at(&url(), &prefix).await, &users);
    let b = dpop_instance(backend_at(&url(), &prefix).await, &users);
    a_proof_replayed_on_another_instance_is_refused(&a, &b, &idp).await;

    // The proof cannot be recorded: 503, never a pass.
    let server = PrivateRedis::start(PrivateRedis::free_port());
    let c = dpop_instance(backend_at(&server.url(), &prefix).await, &users);
    let (token, proof) = bound_session_and_proof(&c, &idp).await;
    drop(server);
    assert_eq!(
        with_proof(&c, &token, &proof).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

/// An introspected token the app learns is revoked (its own logout) is evicted on every
/// instance through the Redis revocation feed: node-oidc-provider answers, two verifiers
/// each keep its answer for 60 s, one of them evicts.
#[cfg(feature = "jwks")]
#[tokio::test]
async fn an_eviction_of_an_introspected_token_reaches_every_instance() {
    use tower_jwt_sessions::verifier::{Introspection, Issuer};
    use tower_jwt_sessions::{Claims, StandardClaims, Verifier};

    use crate::common::provider::{Provider, RESOURCE};

    let (url, prefix) = (url(), prefix());
    let provider = Provider::start();
    let mut verifiers = Vec::new();
    let mut bases = Vec::new();
    for _ in 0..2 {
        let verifier = Verifier::<StandardClaims>::builder()
            .issuer(
                Issuer::new(&provider.issuer)
                    .audience(RESOURCE)
                    .introspection(Introspection::client_secret_basic("rs", "rs-secret")),
            )
            .eviction_feed(backend_at(&url, &prefix).await)
            .build()
            .unwrap();
        let app = axum::Router::new()
            .route(
                "/me",
                axum::routing::get(|_: Claims<StandardClaims>| async { "ok" }),
            )
            .layer(verifier.layer());
        bases.push(serve(app).await);
        verifiers.push(verifier);
    }
    let status = async |base: &str, token: &str| {
        reqwest::Client::new()
            .get(format!("{base}/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
    };
    let token = provider.opaque("read").await;
    // Cached answers are served once each instance's feed is up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for base in &bases {
        assert_eq!(status(base, &token).await, StatusCode::OK);
        assert_eq!(status(base, &token).await, StatusCode::OK);
    }
    assert_eq!(provider.introspections().await, 2);

    provider.revoke(&token).await;
    // Still cached on both, until the app evicts.
    assert_eq!(status(&bases[1], &token).await, StatusCode::OK);
    verifiers[0].evict_everywhere(&token).await.unwrap();
    assert_eq!(status(&bases[0], &token).await, StatusCode::UNAUTHORIZED);
    let reached = within(Duration::from_secs(2), async || {
        status(&bases[1], &token).await == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(
        reached.is_some(),
        "the other instance evicted through the feed"
    );
}
