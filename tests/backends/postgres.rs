//! The Postgres backend against a real Postgres (`DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`): the backend contract, migrations applied once by
//! racing instances, two instances sharing it, a revocation made while an instance's listener
//! was cut or before it started, every pooled connection dropped by the server. Each test
//! works in a schema of its own, dropped at the end.
//! Behind the `postgres` feature: `cargo test --features postgres` (`.ci/run` starts Postgres).
#![cfg(feature = "postgres")]

use std::time::Duration;

use crate::common::nodes::*;
use crate::common::pg::{Schema, backend_at, url};
use http::StatusCode;
use tower_jwt_sessions::PostgresBackend;
use tower_jwt_sessions_core::suite;

#[tokio::test]
async fn the_postgres_backend_keeps_the_backend_contract() {
    let schema = Schema::new();
    let backend = backend_at(&url(), &schema).await;
    suite::check_backend(&backend).await;
    suite::check_rotation(&backend).await;
    suite::check_replay(&backend).await;
}

#[tokio::test]
async fn a_retired_token_replayed_on_an_instance_with_a_stale_cache_ends_the_session() {
    let (schema, users) = (Schema::new(), users());
    let a = instance(backend_at(&url(), &schema).await, &users);
    let b = instance(backend_at(&url(), &schema).await, &users);
    a_retired_token_replayed_on_a_stale_instance_ends_the_session(&a, &b).await;
}

#[tokio::test]
async fn instances_starting_together_apply_the_migrations_once() {
    let schema = Schema::new();
    let url = url();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE SCHEMA {}", schema.0))
        .await
        .unwrap();
    let connect = || PostgresBackend::builder(&url).schema(&schema.0).connect();
    let backends = futures_join(vec![connect(), connect(), connect()]).await;
    assert!(
        backends.iter().all(Result::is_ok),
        "every racing instance starts"
    );
    let applied: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM {}.tjs_migrations", schema.0),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(applied, 3, "each of the three migrations once");
}

#[tokio::test]
async fn a_revocation_on_one_instance_stops_both_tokens_on_the_other_within_a_second() {
    let (url, schema, users) = (url(), Schema::new(), users());
    let a = instance(backend_at(&url, &schema).await, &users);
    let b = instance(backend_at(&url, &schema).await, &users);
    a_revocation_on_one_instance_reaches_the_other_within_a_second(&a, &b).await;
}

#[tokio::test]
async fn a_revocation_made_while_the_listener_was_cut_is_honoured_after_the_resync() {
    let (url, schema, users) = (url(), Schema::new(), users());
    let a = instance(backend_at(&url, &schema).await, &users);
    let b = instance(backend_at(&url, &schema).await, &users);
    let tokens = login(&a).await;
    assert_eq!(access(&a, &tokens).await, StatusCode::OK);
    // Both listeners are up before they are cut.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let admin = admin(&url).await;
    assert_eq!(
        cut_listeners(&admin, &schema).await,
        2,
        "one listener per instance"
    );
    assert!(b.revoke(&tokens.session_id).await.unwrap());
    let seen = within(Duration::from_secs(3), async || {
        access(&a, &tokens).await == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(seen.is_some(), "the revocation was lost with the listener");
}

async fn admin(url: &str) -> tokio_postgres::Client {
    let (admin, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    admin
}

/// Cuts the listeners of this test's instances (named after its schema; other tests' are
/// left alone); how many.
async fn cut_listeners(admin: &tokio_postgres::Client, schema: &Schema) -> i64 {
    admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = $1",
            &[&format!("{}_tjs_feed", schema.0)],
        )
        .await
        .unwrap()
        .get(0)
}

/// Waits until the instance has reconnected its listener and replayed the log.
async fn resynced<S: tower_jwt_sessions::SessionBackend>(node: &Node<S>) {
    // Long enough for a cut listener to have been noticed, short of its reconnection.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let up = within(Duration::from_secs(5), async || node.revocation_feed_up()).await;
    assert!(up.is_some(), "the listener did not come back");
}

/// Two sessions revoked through `by` and seen by `seen_by`: its listener's last id is 2.
async fn revoke_two<S: tower_jwt_sessions::SessionBackend + tower_jwt_sessions::RotatingBackend>(
    by: &Node<S>,
    seen_by: &Node<S>,
) {
    for _ in 0..2 {
        let tokens = login(by).await;
        assert!(by.revoke(&tokens.session_id).await.unwrap());
        let seen = within(Duration::from_secs(1), async || {
            access(seen_by, &tokens).await == StatusCode::UNAUTHORIZED
        })
        .await;
        assert!(seen.is_some());
    }
}

#[tokio::test]
async fn a_revocation_made_while_the_listener_was_cut_across_a_log_reset_is_honoured() {
    let (url, schema, users) = (url(), Schema::new(), users());
    let a = instance(backend_at(&url, &schema).await, &users);
    let b = instance(backend_at(&url, &schema).await, &users);
    let tokens = login(&a).await;
    assert_eq!(access(&a, &tokens).await, StatusCode::OK);
    revoke_two(&b, &a).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let admin = admin(&url).await;
    assert_eq!(cut_listeners(&admin, &schema).await, 2);
    // The log's ids start again at 1, below the last one A saw: a replay from there finds
    // nothing.
    admin
        .batch_execute(&format!(
            "TRUNCATE {}.tjs_revocations RESTART IDENTITY",
            schema.0
        ))
        .await
        .unwrap();
    assert!(b.revoke(&tokens.session_id).await.unwrap());
    resynced(&a).await;
    assert_eq!(
        access(&a, &tokens).await,
        StatusCode::UNAUTHORIZED,
        "the revocation was lost with the log"
    );
    // Fail closed, not shut: a live session is read from the backend and served.
    let live = login(&b).await;
    assert_eq!(access(&a, &live).await, StatusCode::OK);
}

#[tokio::test]
async fn ids_gone_back_without_a_trigger_seeing_it_are_found_by_the_listener() {
    let (url, schema, users) = (url(), Schema::new(), users());
    let a = instance(backend_at(&url, &schema).await, &users);
    let b = instance(backend_at(&url, &schema).await, &users);
    let tokens = login(&a).await;
    assert_eq!(access(&a, &tokens).await, StatusCode::OK);
    revoke_two(&b, &a).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let admin = admin(&url).await;
    assert_eq!(cut_listeners(&admin, &schema).await, 2);
    // As a restore does (`pg_restore --disable-triggers`): no trigger fires, nobody is told.
    admin
        .batch_execute(&format!(
            "SET session_replication_role = replica; \
             TRUNCATE {}.tjs_revocations RESTART IDENTITY; \
             SET session_replication_role = origin",
            schema.0
        ))
        .await
        .unwrap();
    assert!(b.revoke(&tokens.session_id).await.unwrap());
    resynced(&a).await;
    assert_eq!(access(&a, &tokens).await, StatusCode::UNAUTHORIZED);
    // The loss is recorded for instances starting later.
    let since: i64 = admin
        .query_one(
            &format!("SELECT since FROM {}.tjs_revocations_meta", schema.0),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(since > 0);
}

#[tokio::test]
async fn an_instance_started_after_the_log_was_truncated_refuses_a_session_revoked_before() {
    let (url, schema, users) = (url(), Schema::new(), users());
    let a = instance(backend_at(&url, &schema).await, &users);
    let tokens = login(&a).await;
    let live = login(&a).await;
    assert!(a.revoke(&tokens.session_id).await.unwrap());
    admin(&url)
        .await
        .batch_execute(&format!("TRUNCATE {}.tjs_revocations", schema.0))
        .await
        .unwrap();
    let c = instance(backend_at(&url, &schema).await, &users);
    resynced(&c).await;
    assert_eq!(access(&c, &tokens).await, StatusCode::UNAUTHORIZED);
    assert_eq!(access(&c, &live).await, StatusCode::OK);
}

#[tokio::test]
async fn a_fresh_log_is_complete_and_an_old_trim_changes_nothing() {
    let (url, schema, users) = (url(), Schema::new(), users());
    let a = instance(backend_at(&url, &schema).await, &users);
    let tokens = login(&a).await;
    resynced(&a).await;
    // Trusted: the access token is served without reading the backend, so a row deleted
    // behind the layer's back (no log entry) goes unnoticed, as it should on the fast path.
    let admin = admin(&url).await;
    admin
        .batch_execute(&format!(
            "INSERT INTO {s}.tjs_revocations (session_id, at) \
             VALUES ('old', now() - interval '2 hours'); \
             DELETE FROM {s}.tjs_revocations WHERE session_id = 'old'; \
             DELETE FROM {s}.tjs_sessions WHERE id = '{id}'",
            s = schema.0,
            id = tokens.session_id
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(access(&a, &tokens).await, StatusCode::OK);
}

#[tokio::test]
async fn an_instance_started_after_a_revocation_honours_it() {
    let (url, schema, users) = (url(), Schema::new(), users());
    let a = instance(backend_at(&url, &schema).await, &users);
    let start = async || instance(backend_at(&url, &schema).await, &users);
    a_revocation_before_an_instance_starts_is_honoured_by_it(&a, start).await;
}

#[tokio::test]
async fn expired_rows_are_deleted_in_batches() {
    let schema = Schema::new();
    let backend = backend_at(&url(), &schema).await;
    use tower_jwt_sessions::SessionBackend;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for i in 0..1500 {
        backend
            .create(tower_jwt_sessions::Session {
                id: format!("old{i}"),
                user_id: "u1".into(),
                created_at: now - 100,
                expires_at: now - 1,
                last_accessed: now - 100,
                generation: 0,
                rotated_at: 0,
                meta: Default::default(),
            })
            .await
            .unwrap();
    }
    assert_eq!(backend.delete_expired().await.unwrap(), 1500);
    assert!(backend.list("u1", 10).await.unwrap().is_empty());
}

/// Terminates every backend named `name` and waits until each has exited; how many. From a
/// thread of its own, blocking the test's runtime meanwhile: the backend's connection tasks
/// get no chance to notice before its next call, as after a failover nobody saw.
fn terminate(url: &str, name: &str) -> i64 {
    let (url, name) = (url.to_owned(), name.to_owned());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (admin, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            admin
                .query_one(
                    "SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity \
                     WHERE application_name = $1",
                    &[&name],
                )
                .await
                .unwrap()
                .get(0)
        })
    })
    .join()
    .unwrap()
}
#[tokio::test]
async fn the_first_call_after_postgres_drops_every_pooled_connection_succeeds() {
    use tower_jwt_sessions::SessionBackend;
    let (url, schema) = (url(), Schema::new());
    let backend = backend_at(&url, &schema).await;
    let session = |id: &str| tower_jwt_sessions::Session {
        id: id.into(),
        user_id: "u1".into(),
        created_at: 1,
        expires_at: u64::from(u32::MAX),
        last_accessed: 1,
        generation: 0,
        rotated_at: 0,
        meta: Default::default(),
    };
    // Several pooled connections, all idle when their backends go.
    let warm: Vec<_> = (0..4)
        .map(|i| backend.create(session(&format!("s{i}"))))
        .collect();
    assert!(futures_join(warm).await.iter().all(Result::is_ok));
    let pooled = format!("{}_tjs_store", schema.0);

    assert!(terminate(&url, &pooled) >= 1, "no pooled connection found");
    assert!(backend.load("s0").await.unwrap().is_some(), "load");
    assert!(terminate(&url, &pooled) >= 1);
    assert!(backend.create(session("s9")).await.is_ok(), "create");
    assert!(terminate(&url, &pooled) >= 1);
    assert!(backend.revoke("s1").await.unwrap(), "revoke");
}

#[tokio::test]
async fn a_dpop_proof_is_accepted_once_across_instances() {
    let idp = crate::common::idp::Idp::start();
    let (url, schema, users) = (url(), Schema::new(), users());
    let a = dpop_instance(backend_at(&url, &schema).await, &users);
    let b = dpop_instance(backend_at(&url, &schema).await, &users);
    a_proof_replayed_on_another_instance_is_refused(&a, &b, &idp).await;
}
