//! The conformance suite every backend runs (feature `test-suite`).
//!
//! Each check runs named rules, one small function each, and panics with the name of the rule
//! the backend broke, then its clause (`lists_newest_first: list returns exactly the user's
//! sessions, newest first`), so it reads as a failed test. Each rule makes its own rows and
//! revokes them after. Ids are random, so the checks can run against a shared backend (one
//! Redis, one database) beside other tests. No runtime is needed: call them from the test
//! runtime you already use.
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
//! async fn my_backend_keeps_the_contract() {
//!     tower_jwt_sessions_core::suite::check_backend(&MyBackend::default()).await;
//! }
//! # tokio::runtime::Builder::new_current_thread().build().unwrap()
//! #     .block_on(my_backend_keeps_the_contract());
//! ```

use std::future::Future;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{ReplayBackend, RotatingBackend, Session, SessionBackend, SessionMeta};

/// Checks create, load, list, touch and revoke, "not found" apart from "failed", and rows
/// whose expiry has passed: the rules below, in this order. A failure panics with the rule's
/// name first, then the clause the backend broke.
///
/// | rule | what the backend must do |
/// |---|---|
/// | `not_found_is_not_a_failure` | an unknown id loads as `Ok(None)`, revokes as `Ok(false)`, touches as `Ok(())`; a user without sessions lists as empty |
/// | `creates_and_loads` | a created row loads back as it was created, every field and the meta included |
/// | `lists_newest_first` | `list` returns exactly the user's sessions, newest first, at most `limit` of them |
/// | `touch_moves_forward` | `touch` moves `last_accessed` forward, never back, and changes nothing else |
/// | `revoke_deletes_the_row` | revoking a live row is `Ok(true)` and deletes it: no longer loaded or listed; another user's row stays |
/// | `revoke_is_idempotent` | a second revoke of a row is `Ok(false)` |
/// | `expired_rows_are_not_errors` | a row whose expiry has passed is created and loaded without error, and keeps its expiry if kept |
/// | `revoke_others_keeps_one` | `revoke_others` ends every session of the user but the kept one, returns their ids, and leaves other users' |
/// | `revoke_all_ends_every_session` | `revoke_all` ends every session of the user, returns their ids, and leaves other users' |
pub async fn check_backend<S: SessionBackend>(backend: &S) {
    not_found_is_not_a_failure(backend).await;
    creates_and_loads(backend).await;
    lists_newest_first(backend).await;
    touch_moves_forward(backend).await;
    revoke_deletes_the_row(backend).await;
    revoke_is_idempotent(backend).await;
    expired_rows_are_not_errors(backend).await;
    revoke_others_keeps_one(backend).await;
    revoke_all_ends_every_session(backend).await;
}

/// "Not there" is an answer, never an error: the first ends a session with a 401, an error
/// is a 503.
async fn not_found_is_not_a_failure<S: SessionBackend>(backend: &S) {
    let user = unique("user");
    let unknown = session_id(backend, &user);
    assert_eq!(
        backend
            .load(&unknown)
            .await
            .expect("not_found_is_not_a_failure: load of an unknown id is Ok(None), not an error"),
        None,
        "not_found_is_not_a_failure: load of an unknown id is Ok(None)"
    );
    assert!(
        !backend.revoke(&unknown).await.expect(
            "not_found_is_not_a_failure: revoke of an unknown id is Ok(false), not an error"
        ),
        "not_found_is_not_a_failure: revoke of an unknown id is Ok(false)"
    );
    backend
        .touch(&unknown, unix_now())
        .await
        .expect("not_found_is_not_a_failure: touch of an unknown id is Ok(()), not an error");
    assert!(
        backend
            .list(&user, 10)
            .await
            .expect("not_found_is_not_a_failure: list of a user without sessions is Ok")
            .is_empty(),
        "not_found_is_not_a_failure: list of a user without sessions is empty"
    );
}

/// A row loads back exactly as it was created, with a meta that needs escaping.
async fn creates_and_loads<S: SessionBackend>(backend: &S) {
    let now = unix_now();
    let user = unique("user");
    let mut row = session(backend, &user, now - 10, now + 3600);
    row.meta = SessionMeta {
        ip: Some("203.0.113.7".into()),
        user_agent: Some("suite/1.0 (\"quoted\", ünïcödé)".into()),
        dpop_jkt: Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into()),
    };
    backend
        .create(row.clone())
        .await
        .expect("creates_and_loads: create succeeds");
    assert_eq!(
        backend
            .load(&row.id)
            .await
            .expect("creates_and_loads: load succeeds")
            .as_ref(),
        Some(&row),
        "creates_and_loads: load returns the row as created, every field and the meta included"
    );
    revoke_each(backend, "creates_and_loads", [&row]).await;
}

/// `list` is the user's own sessions, newest (`created_at`) first, cut at `limit`. The rows
/// are created oldest last, so that insertion order does not pass for age order.
async fn lists_newest_first<S: SessionBackend>(backend: &S) {
    let now = unix_now();
    let (user, other_user) = (unique("user"), unique("user"));
    let older = session(backend, &user, now - 20, now + 3600);
    let newer = session(backend, &user, now - 10, now + 3600);
    let foreign = session(backend, &other_user, now - 15, now + 3600);
    create_each(backend, "lists_newest_first", [&newer, &older, &foreign]).await;
    assert_eq!(
        listed(backend, "lists_newest_first", &user, 10).await,
        [newer.id.as_str(), older.id.as_str()],
        "lists_newest_first: list returns exactly the user's sessions, newest first"
    );
    assert_eq!(
        listed(backend, "lists_newest_first", &user, 1).await,
        [newer.id.as_str()],
        "lists_newest_first: list returns at most `limit` sessions, the newest"
    );
    revoke_each(backend, "lists_newest_first", [&older, &newer, &foreign]).await;
}

/// `touch` records a use: `last_accessed` only moves forward, and nothing else changes.
async fn touch_moves_forward<S: SessionBackend>(backend: &S) {
    let now = unix_now();
    let row = session(backend, &unique("user"), now - 20, now + 3600);
    backend
        .create(row.clone())
        .await
        .expect("touch_moves_forward: create succeeds");
    backend
        .touch(&row.id, now + 5)
        .await
        .expect("touch_moves_forward: touch succeeds");
    backend
        .touch(&row.id, now - 100)
        .await
        .expect("touch_moves_forward: touch succeeds");
    let touched = backend
        .load(&row.id)
        .await
        .expect("touch_moves_forward: load succeeds")
        .expect("touch_moves_forward: row still there");
    assert_eq!(
        touched.last_accessed,
        now + 5,
        "touch_moves_forward: touch moves last_accessed forward, never back"
    );
    assert_eq!(
        touched.generation, row.generation,
        "touch_moves_forward: touch changes nothing else"
    );
    revoke_each(backend, "touch_moves_forward", [&row]).await;
}

/// Revoking deletes the row, and with it the session: its existence is the revocation
/// state. Only that row goes.
async fn revoke_deletes_the_row<S: SessionBackend>(backend: &S) {
    let now = unix_now();
    let (user, other_user) = (unique("user"), unique("user"));
    let revoked = session(backend, &user, now - 20, now + 3600);
    let kept = session(backend, &user, now - 10, now + 3600);
    let foreign = session(backend, &other_user, now - 15, now + 3600);
    create_each(
        backend,
        "revoke_deletes_the_row",
        [&kept, &revoked, &foreign],
    )
    .await;
    assert!(
        backend
            .revoke(&revoked.id)
            .await
            .expect("revoke_deletes_the_row: revoke succeeds"),
        "revoke_deletes_the_row: revoke of a live row is Ok(true)"
    );
    assert_eq!(
        backend
            .load(&revoked.id)
            .await
            .expect("revoke_deletes_the_row: load succeeds"),
        None,
        "revoke_deletes_the_row: a revoked row is gone"
    );
    assert_eq!(
        listed(backend, "revoke_deletes_the_row", &user, 10).await,
        [kept.id.as_str()],
        "revoke_deletes_the_row: list no longer shows a revoked row"
    );
    assert!(
        backend
            .load(&foreign.id)
            .await
            .expect("revoke_deletes_the_row: load succeeds")
            .is_some(),
        "revoke_deletes_the_row: revoking one user's session leaves another's"
    );
    revoke_each(backend, "revoke_deletes_the_row", [&kept, &foreign]).await;
}

/// A revoke repeated (a retry, a second instance) finds nothing left: `Ok(false)`, not an
/// error.
async fn revoke_is_idempotent<S: SessionBackend>(backend: &S) {
    let now = unix_now();
    let row = session(backend, &unique("user"), now - 10, now + 3600);
    backend
        .create(row.clone())
        .await
        .expect("revoke_is_idempotent: create succeeds");
    backend
        .revoke(&row.id)
        .await
        .expect("revoke_is_idempotent: revoke succeeds");
    assert!(
        !backend
            .revoke(&row.id)
            .await
            .expect("revoke_is_idempotent: revoke succeeds"),
        "revoke_is_idempotent: a second revoke is Ok(false)"
    );
}

/// A row whose expiry passed (a clock jump, a slow write) is never an error: the backend
/// keeps it or drops it, and the crate checks `expires_at` itself.
async fn expired_rows_are_not_errors<S: SessionBackend>(backend: &S) {
    let now = unix_now();
    let expired = session(backend, &unique("user"), now - 100, now - 1);
    backend
        .create(expired.clone())
        .await
        .expect("expired_rows_are_not_errors: create of an already expired row succeeds");
    if let Some(row) = backend
        .load(&expired.id)
        .await
        .expect("expired_rows_are_not_errors: load of an expired row is not an error")
    {
        assert_eq!(
            row.expires_at, expired.expires_at,
            "expired_rows_are_not_errors: an expired row, if kept, keeps its expiry"
        );
    }
    revoke_each(backend, "expired_rows_are_not_errors", [&expired]).await;
}

/// "Sign out other devices": only this user's sessions end, the kept one stays.
async fn revoke_others_keeps_one<S: SessionBackend>(backend: &S) {
    let now = unix_now();
    let (user, other_user) = (unique("user"), unique("user"));
    let devices: Vec<Session> = (0..3)
        .map(|i| session(backend, &user, now - 10 + i, now + 3600))
        .collect();
    let bystander = session(backend, &other_user, now, now + 3600);
    create_each(
        backend,
        "revoke_others_keeps_one",
        devices.iter().chain([&bystander]),
    )
    .await;
    let mut ended = backend
        .revoke_others(&user, &devices[1].id)
        .await
        .expect("revoke_others_keeps_one: revoke_others succeeds");
    ended.sort();
    let mut expected = vec![devices[0].id.clone(), devices[2].id.clone()];
    expected.sort();
    assert_eq!(
        ended, expected,
        "revoke_others_keeps_one: revoke_others ends every session of the user but the kept one"
    );
    assert!(
        backend
            .load(&devices[1].id)
            .await
            .expect("revoke_others_keeps_one: load succeeds")
            .is_some(),
        "revoke_others_keeps_one: revoke_others keeps the kept session"
    );
    assert_eq!(
        listed(backend, "revoke_others_keeps_one", &user, 10).await,
        [devices[1].id.as_str()],
        "revoke_others_keeps_one: the sessions revoke_others ended are gone"
    );
    assert!(
        backend
            .load(&bystander.id)
            .await
            .expect("revoke_others_keeps_one: load succeeds")
            .is_some(),
        "revoke_others_keeps_one: revoke_others leaves other users' sessions"
    );
    revoke_each(
        backend,
        "revoke_others_keeps_one",
        [&devices[1], &bystander],
    )
    .await;
}

/// "Sign out everywhere": every session of this user ends, no other user's.
async fn revoke_all_ends_every_session<S: SessionBackend>(backend: &S) {
    let now = unix_now();
    let (user, other_user) = (unique("user"), unique("user"));
    let devices: Vec<Session> = (0..2)
        .map(|i| session(backend, &user, now - 10 + i, now + 3600))
        .collect();
    let bystander = session(backend, &other_user, now, now + 3600);
    create_each(
        backend,
        "revoke_all_ends_every_session",
        devices.iter().chain([&bystander]),
    )
    .await;
    let mut ended = backend
        .revoke_all(&user)
        .await
        .expect("revoke_all_ends_every_session: revoke_all succeeds");
    ended.sort();
    let mut expected: Vec<String> = devices.iter().map(|s| s.id.clone()).collect();
    expected.sort();
    assert_eq!(
        ended, expected,
        "revoke_all_ends_every_session: revoke_all ends every session of the user"
    );
    assert!(
        listed(backend, "revoke_all_ends_every_session", &user, 10)
            .await
            .is_empty(),
        "revoke_all_ends_every_session: after revoke_all the user has no sessions"
    );
    assert!(
        backend
            .load(&bystander.id)
            .await
            .expect("revoke_all_ends_every_session: load succeeds")
            .is_some(),
        "revoke_all_ends_every_session: revoke_all leaves other users' sessions"
    );
    revoke_each(backend, "revoke_all_ends_every_session", [&bystander]).await;
}

/// Checks the generation compare-and-swap, with racing swaps: exactly one wins. The rules,
/// in this order, each failure naming its rule first:
///
/// | rule | what the backend must do |
/// |---|---|
/// | `rotate_is_compare_and_swap` | `rotate` from the current generation swaps and sets `generation` and `rotated_at` only; from another generation, or of an unknown id, it is `Ok(false)` |
/// | `one_racing_rotate_wins` | of 16 racing rotates from one generation exactly one wins, and its generation is stored |
/// | `rotate_of_a_revoked_row_is_false` | `rotate` of a revoked row is `Ok(false)`, not an error |
pub async fn check_rotation<S: RotatingBackend>(backend: &S) {
    rotate_is_compare_and_swap(backend).await;
    one_racing_rotate_wins(backend).await;
    rotate_of_a_revoked_row_is_false(backend).await;
}

/// The swap happens only from the generation the caller saw, and touches nothing else.
async fn rotate_is_compare_and_swap<S: RotatingBackend>(backend: &S) {
    let now = unix_now();
    let user = unique("user");
    assert!(
        !backend
            .rotate(&session_id(backend, &user), 0, 1, now)
            .await
            .expect(
                "rotate_is_compare_and_swap: rotate of an unknown id is Ok(false), not an error"
            ),
        "rotate_is_compare_and_swap: rotate of an unknown id is Ok(false)"
    );

    let row = session(backend, &user, now, now + 3600);
    backend
        .create(row.clone())
        .await
        .expect("rotate_is_compare_and_swap: create succeeds");
    assert!(
        backend
            .rotate(&row.id, 0, 1, now + 1)
            .await
            .expect("rotate_is_compare_and_swap: rotate succeeds"),
        "rotate_is_compare_and_swap: rotate from the current generation swaps"
    );
    let rotated = backend
        .load(&row.id)
        .await
        .expect("rotate_is_compare_and_swap: load succeeds")
        .expect("rotate_is_compare_and_swap: row still there");
    assert_eq!(
        (rotated.generation, rotated.rotated_at),
        (1, now + 1),
        "rotate_is_compare_and_swap: rotate sets generation and rotated_at"
    );
    assert_eq!(
        rotated.expires_at, row.expires_at,
        "rotate_is_compare_and_swap: rotate changes nothing else"
    );
    assert!(
        !backend
            .rotate(&row.id, 0, 1, now + 2)
            .await
            .expect("rotate_is_compare_and_swap: rotate succeeds"),
        "rotate_is_compare_and_swap: rotate from a generation that is no longer current is Ok(false)"
    );
    revoke_each(backend, "rotate_is_compare_and_swap", [&row]).await;
}

/// Instances race to rotate one session: the swap is atomic in the backend, so one wins.
async fn one_racing_rotate_wins<S: RotatingBackend>(backend: &S) {
    let now = unix_now();
    let row = session(backend, &unique("user"), now, now + 3600);
    backend
        .create(row.clone())
        .await
        .expect("one_racing_rotate_wins: create succeeds");
    let racers = (0..16)
        .map(|_| backend.rotate(&row.id, 0, 1, now + 3))
        .collect();
    let wins = join_all(racers)
        .await
        .into_iter()
        .map(|won| won.expect("one_racing_rotate_wins: racing rotates succeed"))
        .filter(|won| *won)
        .count();
    assert_eq!(
        wins, 1,
        "one_racing_rotate_wins: of 16 racing rotates from one generation exactly one wins"
    );
    let after = backend
        .load(&row.id)
        .await
        .expect("one_racing_rotate_wins: load succeeds")
        .expect("one_racing_rotate_wins: row still there");
    assert_eq!(
        after.generation, 1,
        "one_racing_rotate_wins: the winner's generation is stored"
    );
    revoke_each(backend, "one_racing_rotate_wins", [&row]).await;
}

/// A revoked session cannot be brought back by a refresh that raced its revocation.
async fn rotate_of_a_revoked_row_is_false<S: RotatingBackend>(backend: &S) {
    let now = unix_now();
    let row = session(backend, &unique("user"), now, now + 3600);
    backend
        .create(row.clone())
        .await
        .expect("rotate_of_a_revoked_row_is_false: create succeeds");
    assert!(
        backend
            .revoke(&row.id)
            .await
            .expect("rotate_of_a_revoked_row_is_false: revoke succeeds"),
        "rotate_of_a_revoked_row_is_false: revoke of a live row is Ok(true)"
    );
    assert!(
        !backend
            .rotate(&row.id, 0, 1, now + 4)
            .await
            .expect("rotate_of_a_revoked_row_is_false: rotate of a revoked row is not an error"),
        "rotate_of_a_revoked_row_is_false: rotate of a revoked row is Ok(false)"
    );
}

/// Checks the one-time records of [`ReplayBackend`]. The rules, in this order, each failure
/// naming its rule first:
///
/// | rule | what the backend must do |
/// |---|---|
/// | `records_once` | the first record of an id is `true`, every later one `false`; ids are independent |
/// | `one_racing_record_wins` | of 16 racing records of one id exactly one is first |
pub async fn check_replay<R: ReplayBackend>(records: &R) {
    records_once(records).await;
    one_racing_record_wins(records).await;
}

/// A proof id is a first use once, and only its own records count.
async fn records_once<R: ReplayBackend>(records: &R) {
    let now = unix_now();
    let id = unique("proof");
    assert!(
        records
            .record_once(&id, now + 60)
            .await
            .expect("records_once: record succeeds"),
        "records_once: the first record of an id is a first use"
    );
    assert!(
        !records
            .record_once(&id, now + 60)
            .await
            .expect("records_once: record succeeds"),
        "records_once: a second record of the same id is not"
    );
    assert!(
        records
            .record_once(&unique("proof"), now + 60)
            .await
            .expect("records_once: record succeeds"),
        "records_once: another id is independent"
    );
}

/// Instances race to record one proof: the record is atomic in the backend, so one is first.
async fn one_racing_record_wins<R: ReplayBackend>(records: &R) {
    let now = unix_now();
    let raced = unique("proof");
    let racers = (0..16)
        .map(|_| records.record_once(&raced, now + 60))
        .collect();
    let firsts = join_all(racers)
        .await
        .into_iter()
        .map(|first| first.expect("one_racing_record_wins: racing records succeed"))
        .filter(|first| *first)
        .count();
    assert_eq!(
        firsts, 1,
        "one_racing_record_wins: of 16 racing records of one id exactly one is first"
    );
}

/// A new row of `user_id`, generation 0, never touched.
fn session<S: SessionBackend>(
    backend: &S,
    user_id: &str,
    created_at: u64,
    expires_at: u64,
) -> Session {
    Session {
        id: session_id(backend, user_id),
        user_id: user_id.to_owned(),
        created_at,
        expires_at,
        last_accessed: created_at,
        generation: 0,
        rotated_at: 0,
        meta: SessionMeta::default(),
    }
}

/// The ids `list` returns, in its order; a failed call panics naming `rule`.
async fn listed<S: SessionBackend>(
    backend: &S,
    rule: &str,
    user_id: &str,
    limit: usize,
) -> Vec<String> {
    match backend.list(user_id, limit).await {
        Ok(rows) => rows.into_iter().map(|s| s.id).collect(),
        Err(err) => panic!("{rule}: list succeeds: {err:?}"),
    }
}

/// Revokes what a check made, so that a shared backend is left as it was; a failed call
/// panics naming `rule`.
/// Creates each row, failing `rule` if the backend cannot.
async fn create_each<'a, S: SessionBackend>(
    backend: &S,
    rule: &str,
    rows: impl IntoIterator<Item = &'a Session>,
) {
    for row in rows {
        if let Err(err) = backend.create(row.clone()).await {
            panic!("{rule}: create succeeds: {err:?}");
        }
    }
}

/// Revokes each row, failing `rule` if the backend cannot.
async fn revoke_each<'a, S: SessionBackend>(
    backend: &S,
    rule: &str,
    rows: impl IntoIterator<Item = &'a Session>,
) {
    for row in rows {
        if let Err(err) = backend.revoke(&row.id).await {
            panic!("{rule}: revoke succeeds: {err:?}");
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A new session id of `user_id` as the crate makes them: behind the backend's prefix (its
/// shard of the user), when it has one.
fn session_id<S: SessionBackend>(backend: &S, user_id: &str) -> String {
    match backend.session_id_prefix(user_id) {
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
