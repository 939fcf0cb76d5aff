//! The conformance suite every backend runs (feature `test-suite`).
//!
//! Each check panics with the clause of the contract that the backend broke, so it reads as a
//! failed test. Ids are random, so the checks can run against a shared backend (one Redis, one
//! database) beside other tests. No runtime is needed: call them from the test runtime you
//! already use.
//!
//! ```
//! # use std::collections::HashMap;
//! # use std::sync::Mutex;
//! # use tower_jwt_sessions_core::{BackendError, Session, SessionBackend};
//! # #[derive(Default)]
//! # struct MyBackend(Mutex<HashMap<String, Session>>);
//! # impl SessionBackend for MyBackend {
//! #     async fn create(&self, s: Session) -> Result<(), BackendError> {
//! #         self.0.lock().unwrap().insert(s.id.clone(), s); Ok(())
//! #     }
//! #     async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
//! #         Ok(self.0.lock().unwrap().get(id).cloned())
//! #     }
//! #     async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
//! #         Ok(self.0.lock().unwrap().remove(id).is_some())
//! #     }
//! #     async fn list(&self, u: &str, limit: usize) -> Result<Vec<Session>, BackendError> {
//! #         let mut v: Vec<Session> = self.0.lock().unwrap().values()
//! #             .filter(|s| s.user_id == u).cloned().collect();
//! #         v.sort_by_key(|s| std::cmp::Reverse(s.created_at));
//! #         v.truncate(limit);
//! #         Ok(v)
//! #     }
//! #     async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
//! #         if let Some(s) = self.0.lock().unwrap().get_mut(id) {
//! #             s.last_accessed = s.last_accessed.max(at);
//! #         }
//! #         Ok(())
//! #     }
//! # }
//! // In a `#[tokio::test]`, or any runtime:
//! async fn my_store_keeps_the_contract() {
//!     tower_jwt_sessions_core::suite::check_backend(&MyBackend::default()).await;
//! }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap()
//! #     .block_on(my_store_keeps_the_contract());
//! ```

use std::future::Future;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{ReplayBackend, RotatingBackend, Session, SessionBackend, SessionMeta};

/// Checks create, load, list, touch and revoke, "not found" apart from "failed", and rows
/// whose expiry has passed.
pub async fn check_backend<S: SessionBackend>(store: &S) {
    let now = unix_now();
    let user = unique("user");
    let other_user = unique("user");

    let unknown = session_id(store, &user);
    assert_eq!(
        store
            .load(&unknown)
            .await
            .expect("load of an unknown id is Ok(None), not an error"),
        None,
        "load of an unknown id is Ok(None)"
    );
    assert!(
        !store
            .revoke(&unknown)
            .await
            .expect("revoke of an unknown id is Ok(false), not an error"),
        "revoke of an unknown id is Ok(false)"
    );
    store
        .touch(&unknown, now)
        .await
        .expect("touch of an unknown id is Ok(()), not an error");
    assert!(
        store
            .list(&user, 10)
            .await
            .expect("list of a user without sessions is Ok")
            .is_empty(),
        "list of a user without sessions is empty"
    );

    let first = session(store, &user, now - 20, now + 3600);
    let mut second = session(store, &user, now - 10, now + 3600);
    second.meta = SessionMeta {
        ip: Some("203.0.113.7".into()),
        user_agent: Some("suite/1.0 (\"quoted\", ünïcödé)".into()),
        dpop_jkt: Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into()),
    };
    let foreign = session(store, &other_user, now - 15, now + 3600);
    for s in [&second, &first, &foreign] {
        store.create(s.clone()).await.expect("create succeeds");
    }
    assert_eq!(
        store
            .load(&second.id)
            .await
            .expect("load succeeds")
            .as_ref(),
        Some(&second),
        "load returns the row as created, every field and the meta included"
    );

    let listed = store.list(&user, 10).await.expect("list succeeds");
    let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [second.id.as_str(), first.id.as_str()],
        "list returns exactly the user's sessions, newest first"
    );
    let newest: Vec<String> = store
        .list(&user, 1)
        .await
        .expect("list succeeds")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        newest,
        [second.id.clone()],
        "list returns at most `limit` sessions, the newest"
    );

    store
        .touch(&first.id, now + 5)
        .await
        .expect("touch succeeds");
    store
        .touch(&first.id, now - 100)
        .await
        .expect("touch succeeds");
    let touched = store
        .load(&first.id)
        .await
        .expect("load succeeds")
        .expect("row still there");
    assert_eq!(
        touched.last_accessed,
        now + 5,
        "touch moves last_accessed forward, never back"
    );
    assert_eq!(
        touched.generation, first.generation,
        "touch changes nothing else"
    );

    assert!(
        store.revoke(&first.id).await.expect("revoke succeeds"),
        "revoke of a live row is Ok(true)"
    );
    assert_eq!(
        store.load(&first.id).await.expect("load succeeds"),
        None,
        "a revoked row is gone"
    );
    assert!(
        !store.revoke(&first.id).await.expect("revoke succeeds"),
        "a second revoke is Ok(false)"
    );
    let ids: Vec<String> = store
        .list(&user, 10)
        .await
        .expect("list succeeds")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        ids,
        [second.id.clone()],
        "list no longer shows a revoked row"
    );
    assert!(
        store
            .load(&foreign.id)
            .await
            .expect("load succeeds")
            .is_some(),
        "revoking one user's session leaves another's"
    );

    // A row whose expiry passed (a clock jump, a slow write) is never an error: the backend
    // keeps it or drops it, and the crate checks `expires_at` itself.
    let expired = session(store, &user, now - 100, now - 1);
    store
        .create(expired.clone())
        .await
        .expect("create of an already expired row succeeds");
    if let Some(row) = store
        .load(&expired.id)
        .await
        .expect("load of an expired row is not an error")
    {
        assert_eq!(
            row.expires_at, expired.expires_at,
            "an expired row, if kept, keeps its expiry"
        );
    }

    for s in [&second, &foreign, &expired] {
        store.revoke(&s.id).await.expect("revoke succeeds");
    }

    // Sign out other devices, then everywhere: only this user's sessions, the kept one kept.
    let devices: Vec<Session> = (0..3)
        .map(|i| session(store, &user, now - 10 + i, now + 3600))
        .collect();
    let bystander = session(store, &other_user, now, now + 3600);
    for s in devices.iter().chain([&bystander]) {
        store.create(s.clone()).await.expect("create succeeds");
    }
    let mut ended = store
        .revoke_others(&user, &devices[1].id)
        .await
        .expect("revoke_others succeeds");
    ended.sort();
    let mut expected = vec![devices[0].id.clone(), devices[2].id.clone()];
    expected.sort();
    assert_eq!(
        ended, expected,
        "revoke_others ends every session of the user but the kept one"
    );
    assert!(
        store
            .load(&devices[1].id)
            .await
            .expect("load succeeds")
            .is_some(),
        "revoke_others keeps the kept session"
    );
    let ended = store.revoke_all(&user).await.expect("revoke_all succeeds");
    assert_eq!(
        ended,
        [devices[1].id.clone()],
        "revoke_all ends what is left"
    );
    assert!(
        store
            .list(&user, 10)
            .await
            .expect("list succeeds")
            .is_empty(),
        "after revoke_all the user has no sessions"
    );
    assert!(
        store
            .load(&bystander.id)
            .await
            .expect("load succeeds")
            .is_some(),
        "revoke_all leaves other users' sessions"
    );
    store.revoke(&bystander.id).await.expect("revoke succeeds");
}

/// Checks the generation compare-and-swap, with racing swaps: exactly one wins.
pub async fn check_rotation<S: RotatingBackend>(store: &S) {
    let now = unix_now();
    let user = unique("user");
    assert!(
        !store
            .rotate(&session_id(store, &user), 0, 1, now)
            .await
            .expect("rotate of an unknown id is Ok(false), not an error"),
        "rotate of an unknown id is Ok(false)"
    );

    let row = session(store, &user, now, now + 3600);
    store.create(row.clone()).await.expect("create succeeds");
    assert!(
        store
            .rotate(&row.id, 0, 1, now + 1)
            .await
            .expect("rotate succeeds"),
        "rotate from the current generation swaps"
    );
    let rotated = store
        .load(&row.id)
        .await
        .expect("load succeeds")
        .expect("row still there");
    assert_eq!(
        (rotated.generation, rotated.rotated_at),
        (1, now + 1),
        "rotate sets generation and rotated_at"
    );
    assert_eq!(
        rotated.expires_at, row.expires_at,
        "rotate changes nothing else"
    );
    assert!(
        !store
            .rotate(&row.id, 0, 1, now + 2)
            .await
            .expect("rotate succeeds"),
        "rotate from a generation that is no longer current is Ok(false)"
    );

    let racers = (0..16)
        .map(|_| store.rotate(&row.id, 1, 2, now + 3))
        .collect();
    let wins = join_all(racers)
        .await
        .into_iter()
        .map(|won| won.expect("racing rotates succeed"))
        .filter(|won| *won)
        .count();
    assert_eq!(
        wins, 1,
        "of 16 racing rotates from one generation exactly one wins"
    );
    let after = store
        .load(&row.id)
        .await
        .expect("load succeeds")
        .expect("row still there");
    assert_eq!(after.generation, 2, "the winner's generation is stored");

    assert!(store.revoke(&row.id).await.expect("revoke succeeds"));
    assert!(
        !store
            .rotate(&row.id, 2, 3, now + 4)
            .await
            .expect("rotate of a revoked row is not an error"),
        "rotate of a revoked row is Ok(false)"
    );
}

fn session<S: SessionBackend>(
    store: &S,
    user_id: &str,
    created_at: u64,
    expires_at: u64,
) -> Session {
    Session {
        id: session_id(store, user_id),
        user_id: user_id.to_owned(),
        created_at,
        expires_at,
        last_accessed: created_at,
        generation: 0,
        rotated_at: 0,
        meta: SessionMeta::default(),
    }
}

/// Checks the one-time records of [`ReplayBackend`]: the first record of an id is `true`,
/// every later one `false`, ids are independent, and of 16 racing records of one id exactly
/// one is first.
pub async fn check_replay<R: ReplayBackend>(records: &R) {
    let now = unix_now();
    let id = unique("proof");
    assert!(
        records
            .record_once(&id, now + 60)
            .await
            .expect("record succeeds"),
        "the first record of an id is a first use"
    );
    assert!(
        !records
            .record_once(&id, now + 60)
            .await
            .expect("record succeeds"),
        "a second record of the same id is not"
    );
    assert!(
        records
            .record_once(&unique("proof"), now + 60)
            .await
            .expect("record succeeds"),
        "another id is independent"
    );
    let raced = unique("proof");
    let racers = (0..16)
        .map(|_| records.record_once(&raced, now + 60))
        .collect();
    let firsts = join_all(racers)
        .await
        .into_iter()
        .map(|first| first.expect("racing records succeed"))
        .filter(|first| *first)
        .count();
    assert_eq!(
        firsts, 1,
        "of 16 racing records of one id exactly one is first"
    );
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A new session id of `user_id` as the crate makes them: behind the backend's prefix (its
/// shard of the user), when it has one.
fn session_id<S: SessionBackend>(store: &S, user_id: &str) -> String {
    match store.session_id_prefix(user_id) {
        Some(prefix) => format!("{prefix}.{}", unique("session")),
        None => unique("session"),
    }
}

/// An id no other test run produces: a per-process random hash, the time and a counter.
fn unique(kind: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    format!("suite-{kind}-{:016x}", hasher.finish())
}

/// Polls every future until all are done, so that they interleave at each await point (a
/// network backend's racing requests are then really in flight together).
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(outputs.iter_mut().filter_map(Option::take).collect())
        }
    })
    .await
}
