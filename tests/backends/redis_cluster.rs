//! The Redis Cluster backend on a real cluster: three primaries with a replica each, started
//! by the tests on free loopback ports (never 6379) with `redis-server --cluster-enabled yes`
//! and `redis-cli --cluster create`. The backend contract; sessions and revocation logs spread
//! over every primary; two instances sharing it; an instance started after a revocation; a
//! failover by `CLUSTER FAILOVER` and by a killed primary, and slots migrated, each during a
//! stream of logins, refreshes and revocations (slots migrated: not one 503).
//! Behind the `redis` feature (`.ci/run` installs redis-server and redis-cli).
#![cfg(feature = "redis")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::StatusCode;
use tower_jwt_sessions::{
    BackendError, RedisClusterBackend, RevocationSink, RotatingBackend, Session, SessionBackend,
};
use tower_jwt_sessions_core::suite;

use crate::common::cluster::Cluster;
use crate::common::nodes::*;
use crate::common::*;
use crate::example_instances::{every_503_carries_retry_after, log_in};

async fn backend(seeds: &str) -> RedisClusterBackend {
    RedisClusterBackend::connect(seeds)
        .await
        .expect("the test cluster answers")
}

/// Starts a cluster off the runtime's threads (it takes a few seconds of blocking waits).
async fn cluster() -> Arc<Mutex<Cluster>> {
    let cluster = tokio::task::spawn_blocking(Cluster::start).await.unwrap();
    Arc::new(Mutex::new(cluster))
}

/// Runs a blocking operation on the cluster off the runtime's threads.
async fn on_cluster<T: Send + 'static>(
    cluster: &Arc<Mutex<Cluster>>,
    op: impl FnOnce(&mut Cluster) -> T + Send + 'static,
) -> T {
    let cluster = Arc::clone(cluster);
    tokio::task::spawn_blocking(move || op(&mut cluster.lock().unwrap()))
        .await
        .unwrap()
}

fn seeds(cluster: &Arc<Mutex<Cluster>>) -> String {
    cluster.lock().unwrap().seeds()
}

/// Users `user0` ... `user{n-1}`, who may read and write.
fn many_users(n: usize) -> Memory {
    let users = Memory::new();
    for i in 0..n {
        let id = format!("user{i}");
        users.set_user(&id, user(&id, true, true, true));
    }
    users
}

async fn login_as<S>(node: &Node<S>, user_id: &str) -> tower_jwt_sessions::IssuedTokens
where
    S: tower_jwt_sessions::SessionBackend,
{
    let claims = user(user_id, true, true, true);
    node.create(user_id, &claims, Default::default())
        .await
        .expect("login succeeds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_backend_keeps_the_backend_contract() {
    let cluster = cluster().await;
    let backend = backend(&seeds(&cluster)).await;
    suite::check_backend(&backend).await;
    suite::check_rotation(&backend).await;
    suite::check_replay(&backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_dead_seed_among_live_ones_is_fine_and_no_live_seed_is_an_error() {
    let cluster = cluster().await;
    let dead = format!("redis://127.0.0.1:{}", PrivateRedis::free_port());
    let seeds = format!("{dead},{}", seeds(&cluster));
    let backend = backend(&seeds).await;
    suite::check_rotation(&backend).await;
    assert!(RedisClusterBackend::connect(&dead).await.is_err());
    assert!(
        RedisClusterBackend::connect("redis://127.0.0.1:notaport")
            .await
            .is_err()
    );
    assert!(RedisClusterBackend::connect("").await.is_err());
    // A single Redis (the shared one, not in cluster mode) is no cluster.
    let single = crate::common::redis_keys::url();
    assert!(RedisClusterBackend::connect(&single).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_nodes_closed_while_idle_fail_no_request() {
    let cluster = cluster().await;
    let users = users();
    let node = instance(backend(&seeds(&cluster)).await, &users);
    let tokens = login(&node).await;
    // Every node closes connections idle for a second (`timeout` in redis.conf).
    on_cluster(&cluster, |cluster| {
        for port in cluster.primaries() {
            let replica = cluster.replica_of(port);
            for port in [port, replica] {
                crate::common::cluster::cli(port, &["CONFIG", "SET", "timeout", "1"]);
            }
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut refresh = tokens.refresh_token.clone();
    for _ in 0..3 {
        let fresh = login(&node).await;
        let (status, rotated) = refresh_with(&node, &refresh).await;
        assert_eq!(status, StatusCode::OK);
        refresh = rotated.expect("a rotated refresh token");
        assert!(node.revoke(&fresh.session_id).await.unwrap());
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_revocation_logs_spread_over_every_primary() {
    let cluster = cluster().await;
    let users = many_users(300);
    let node = instance(backend(&seeds(&cluster)).await, &users);
    let mut sessions = Vec::new();
    for i in 0..300 {
        sessions.push(login_as(&node, &format!("user{i}")).await);
    }
    // Every tenth user signs out: a revocation in their shard's log.
    for tokens in sessions.iter().step_by(10) {
        assert!(node.revoke(&tokens.session_id).await.unwrap());
    }
    let (counts, logs) = on_cluster(&cluster, |cluster| {
        let primaries = cluster.primaries();
        let counts: HashMap<u16, usize> = primaries
            .iter()
            .map(|&p| (p, cluster.count_keys(p, "tjs:{*}:s:*")))
            .collect();
        let logs: HashMap<u16, usize> = primaries
            .iter()
            .map(|&p| {
                let entries: usize =
                    crate::common::cluster::cli(p, &["--scan", "--pattern", "tjs:{*}:revoked"])
                        .lines()
                        .map(|log| {
                            crate::common::cluster::cli(p, &["XLEN", log])
                                .trim()
                                .parse::<usize>()
                                .unwrap_or(0)
                        })
                        .sum();
                (p, entries)
            })
            .collect();
        (counts, logs)
    })
    .await;
    assert_eq!(counts.len(), 3);
    assert_eq!(counts.values().sum::<usize>(), 270, "{counts:?}");
    for (primary, &count) in &counts {
        // A fair share of 270: 5, 6 and 5 of the 16 shards, give or take the users' spread.
        assert!(
            count >= 50,
            "primary {primary} holds {count} of 270: {counts:?}"
        );
        assert!(
            logs[primary] > 0,
            "primary {primary} got no revocation: {logs:?}"
        );
    }
    assert_eq!(logs.values().sum::<usize>(), 30, "{logs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_instance_stops_both_tokens_on_the_other_within_a_second() {
    let cluster = cluster().await;
    let seeds = seeds(&cluster);
    let users = users();
    let a = instance(backend(&seeds).await, &users);
    let b = instance(backend(&seeds).await, &users);
    fed(&a).await;
    fed(&b).await;
    a_revocation_on_one_instance_reaches_the_other_within_a_second(&a, &b).await;
    a_retired_token_replayed_on_a_stale_instance_ends_the_session(&a, &b).await;

    // Sign out everywhere, from B, of sessions A served.
    let phone = login(&a).await;
    let laptop = login(&a).await;
    assert_eq!(access(&a, &phone).await, StatusCode::OK);
    assert_eq!(access(&a, &laptop).await, StatusCode::OK);
    assert_eq!(b.revoke_all("u1").await.unwrap(), 2);
    let seen = within(Duration::from_secs(1), async || {
        access(&a, &phone).await == StatusCode::UNAUTHORIZED
            && access(&a, &laptop).await == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(seen.is_some(), "A still serves sessions B signed out");
    assert!(b.list("u1").await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_per_user_limit_the_oldest_sessions_end_on_the_other_instance_too() {
    let cluster = cluster().await;
    let seeds = seeds(&cluster);
    let users = users();
    let limited = |backend| {
        let keys = tower_jwt_sessions::Keys::hs256(SECRET).unwrap();
        tower_jwt_sessions::Sessions::builder(keys, backend, users.clone())
            .max_sessions_per_user(Some(2))
            .build()
            .unwrap()
    };
    let a = limited(backend(&seeds).await);
    let b = limited(backend(&seeds).await);
    fed(&a).await;
    fed(&b).await;
    let first = login(&a).await;
    assert_eq!(access(&b, &first).await, StatusCode::OK);
    // Sessions created within one second share `created_at`; order them.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = login(&a).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let third = login(&a).await;
    let ended = within(Duration::from_secs(1), async || {
        access(&b, &first).await == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(
        ended.is_some(),
        "the other instance still serves the oldest session"
    );
    for tokens in [&second, &third] {
        assert_eq!(access(&b, tokens).await, StatusCode::OK);
    }
    let listed: Vec<String> = b
        .list("u1")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        listed,
        [third.session_id.clone(), second.session_id.clone()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_after_a_revocation_honours_it() {
    let cluster = cluster().await;
    let seeds = seeds(&cluster);
    let users = users();
    let a = instance(backend(&seeds).await, &users);
    a_revocation_before_an_instance_starts_is_honoured_by_it(&a, async || {
        let c = instance(backend(&seeds).await, &users);
        fed(&c).await;
        c
    })
    .await;
}

/// Waits until the instance's feed has swept every shard's log.
async fn fed<S: tower_jwt_sessions::SessionBackend>(node: &Node<S>) {
    let up = within(Duration::from_secs(5), async || node.revocation_feed_up()).await;
    assert!(up.is_some(), "the feed did not come up");
}

/// The cluster backend with every failure noted, error chain and all, and every call the
/// layer gave up on (its backend timeout) noted with how long it had run: what a 503 came
/// from.
#[derive(Clone)]
struct Noted {
    inner: RedisClusterBackend,
    failures: Arc<Mutex<Vec<String>>>,
    /// The longest call that got its answer, and which.
    slowest: Arc<Mutex<(Duration, &'static str)>>,
}

impl Noted {
    fn new(inner: RedisClusterBackend) -> Noted {
        Noted {
            inner,
            failures: Arc::default(),
            slowest: Arc::default(),
        }
    }

    fn failures(&self) -> Vec<String> {
        self.failures.lock().unwrap().clone()
    }

    async fn noted<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        let mut pending = Pending {
            op,
            started: Instant::now(),
            failures: Arc::clone(&self.failures),
            done: false,
        };
        let result = call.await;
        pending.done = true;
        let took = pending.started.elapsed();
        let mut slowest = self.slowest.lock().unwrap();
        if took > slowest.0 {
            *slowest = (took, op);
        }
        drop(slowest);
        if let Err(err) = &result {
            let mut chain = vec![err.to_string()];
            let mut source = std::error::Error::source(err);
            while let Some(err) = source {
                chain.push(err.to_string());
                source = err.source();
            }
            pending.note(format!("failed: {}", chain.join(" <- ")));
        }
        result
    }
}

/// One call in flight; dropped before its answer, the layer gave up on it.
struct Pending {
    op: &'static str,
    started: Instant,
    failures: Arc<Mutex<Vec<String>>>,
    done: bool,
}

impl Pending {
    fn note(&self, what: String) {
        let ms = self.started.elapsed().as_millis();
        self.failures
            .lock()
            .unwrap()
            .push(format!("{} after {ms} ms {what}", self.op));
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            self.note("given up by the layer (its backend timeout), no answer yet".to_owned());
        }
    }
}

impl SessionBackend for Noted {
    async fn create(&self, session: Session) -> Result<(), BackendError> {
        self.noted("create", self.inner.create(session)).await
    }

    async fn load(&self, id: &str) -> Result<Option<Session>, BackendError> {
        self.noted("load", self.inner.load(id)).await
    }

    async fn revoke(&self, id: &str) -> Result<bool, BackendError> {
        self.noted("revoke", self.inner.revoke(id)).await
    }

    async fn list(&self, user_id: &str, limit: usize) -> Result<Vec<Session>, BackendError> {
        self.noted("list", self.inner.list(user_id, limit)).await
    }

    async fn touch(&self, id: &str, at: u64) -> Result<(), BackendError> {
        self.noted("touch", self.inner.touch(id, at)).await
    }

    async fn revoke_all(&self, user_id: &str) -> Result<Vec<String>, BackendError> {
        self.noted("revoke_all", self.inner.revoke_all(user_id))
            .await
    }

    async fn revoke_others(&self, user_id: &str, keep: &str) -> Result<Vec<String>, BackendError> {
        self.noted("revoke_others", self.inner.revoke_others(user_id, keep))
            .await
    }

    fn session_id_prefix(&self, user_id: &str) -> Option<String> {
        self.inner.session_id_prefix(user_id)
    }

    fn watch_revocations(&self, sink: Arc<dyn RevocationSink>) {
        self.inner.watch_revocations(sink);
    }
}

impl RotatingBackend for Noted {
    async fn rotate(&self, id: &str, from: u64, to: u64, at: u64) -> Result<bool, BackendError> {
        self.noted("rotate", self.inner.rotate(id, from, to, at))
            .await
    }
}

/// What a stream of traffic saw, by kind of fault.
#[derive(Default, Debug)]
struct Seen {
    ok: usize,
    unavailable: usize,
    /// A 503 without `Retry-After`.
    bare_unavailable: usize,
    /// A 401 for a session nobody revoked.
    live_refused: usize,
    /// A 200 for a session whose revocation was acknowledged.
    revoked_served: usize,
    other: Vec<StatusCode>,
    /// The last failure (a 503), and the first success after it.
    last_failure: Option<Instant>,
}

impl Seen {
    /// What two streams saw together.
    fn add(&mut self, other: Seen) {
        self.ok += other.ok;
        self.unavailable += other.unavailable;
        self.bare_unavailable += other.bare_unavailable;
        self.live_refused += other.live_refused;
        self.revoked_served += other.revoked_served;
        self.other.extend(other.other);
        self.last_failure = self.last_failure.max(other.last_failure);
    }
}

/// Logins, refreshes, access checks, revocations and sign-outs everywhere of `users` on two
/// instances, until `stop`; each answer judged against what the client was told before it.
/// Streams running at once must not share a user (one's sign-out everywhere would end the
/// other's sessions).
async fn traffic(
    a: Node<Noted>,
    b: Node<Noted>,
    users: Vec<String>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Seen {
    use std::sync::atomic::Ordering;
    let mut seen = Seen::default();
    // (user, refresh token, access token, session id) of sessions believed live.
    let mut live: Vec<(String, String, tower_jwt_sessions::IssuedTokens)> = Vec::new();
    // Sessions whose revocation was acknowledged: when, and by which instance.
    let mut revoked: Vec<(tower_jwt_sessions::IssuedTokens, Instant, usize)> = Vec::new();
    let mut round = 0usize;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let nodes = [&a, &b];
        let node = nodes[round % 2];
        let user_id = users[round % users.len()].clone();
        // A login.
        match node
            .create(
                &user_id,
                &user(&user_id, true, true, true),
                Default::default(),
            )
            .await
        {
            Ok(tokens) => {
                seen.ok += 1;
                live.push((user_id.clone(), tokens.refresh_token.clone(), tokens));
            }
            Err(_) => {
                seen.unavailable += 1;
                seen.last_failure = Some(Instant::now());
            }
        }
        // A refresh of a live session: 200 with a rotated token, or 503; never 401.
        if !live.is_empty() {
            let pick = round % live.len();
            let reply = crate::common::client::refresh(node, &live[pick].1).await;
            judge(&mut seen, reply.status, &reply.headers, false);
            let access = live[pick].2.access_token.clone();
            match (reply.status, reply.refresh_token()) {
                (StatusCode::OK, Some(token)) => live[pick].1 = token.to_owned(),
                // A 503 may come after the rotation took place: which token is current is
                // unknown, so the session is judged no more.
                _ => drop(live.swap_remove(pick)),
            }
            let reply = crate::common::client::get(node, &access).await;
            judge(&mut seen, reply.status, &reply.headers, false);
        }
        // Every fifth round, a revocation; once acknowledged, the session is dead for good.
        if round.is_multiple_of(5) && !live.is_empty() {
            let (_, _, tokens) = live.swap_remove(round % live.len());
            match node.revoke(&tokens.session_id).await {
                Ok(true) => revoked.push((tokens, Instant::now(), round % 2)),
                Ok(false) => seen.other.push(StatusCode::GONE),
                // Unknown: the revocation may or may not have happened; not judged again.
                Err(_) => {
                    seen.unavailable += 1;
                    seen.last_failure = Some(Instant::now());
                }
            }
        }
        // Every 25th round, one user signs out everywhere: one script over the user's index
        // and every session it lists.
        if round.is_multiple_of(25) {
            let (mine, others): (Vec<_>, Vec<_>) =
                live.drain(..).partition(|(owner, _, _)| *owner == user_id);
            live = others;
            match node.revoke_all(&user_id).await {
                Ok(_) => {
                    for (_, _, tokens) in mine {
                        revoked.push((tokens, Instant::now(), round % 2));
                    }
                }
                Err(_) => {
                    seen.unavailable += 1;
                    seen.last_failure = Some(Instant::now());
                }
            }
        }
        // A revoked session: never 200 on the instance that revoked it, nor on the other
        // once the feed has had its second.
        if let Some((tokens, at, by)) = revoked.get(round % revoked.len().max(1)) {
            for (i, node) in nodes.iter().enumerate() {
                if i != *by && at.elapsed() < Duration::from_secs(1) {
                    continue;
                }
                let reply = crate::common::client::get(node, &tokens.access_token).await;
                judge(&mut seen, reply.status, &reply.headers, true);
                let reply = crate::common::client::refresh(node, &tokens.refresh_token).await;
                judge(&mut seen, reply.status, &reply.headers, true);
            }
        }
        if live.len() > 60 {
            live.drain(..20);
        }
    }
    seen
}

fn judge(seen: &mut Seen, status: StatusCode, headers: &http::HeaderMap, revoked: bool) {
    match status {
        StatusCode::OK if revoked => seen.revoked_served += 1,
        StatusCode::OK => seen.ok += 1,
        StatusCode::UNAUTHORIZED if revoked => seen.ok += 1,
        StatusCode::UNAUTHORIZED => seen.live_refused += 1,
        StatusCode::SERVICE_UNAVAILABLE => {
            seen.unavailable += 1;
            seen.last_failure = Some(Instant::now());
            if !headers.contains_key(http::header::RETRY_AFTER) {
                seen.bare_unavailable += 1;
            }
        }
        other => seen.other.push(other),
    }
}

/// What traffic through a fault saw.
struct Run {
    seen: Seen,
    /// Every backend failure of either instance, with its error chain.
    failures: Vec<String>,
    /// When the fault began.
    faulted: Instant,
    a: Node<Noted>,
    b: Node<Noted>,
}

/// Two instances under traffic, one stream per group of users, while `fault` runs on the
/// cluster, and for `after` past it; their backend calls time out after `timeout`.
async fn run_through(
    cluster: &Arc<Mutex<Cluster>>,
    users: &Memory,
    groups: Vec<Vec<String>>,
    after: Duration,
    timeout: Duration,
    fault: impl FnOnce(&mut Cluster) + Send + 'static,
) -> Run {
    let seeds = seeds(cluster);
    let (backend_a, backend_b) = (
        Noted::new(backend(&seeds).await),
        Noted::new(backend(&seeds).await),
    );
    let a = instance_with_timeout(backend_a.clone(), users, timeout);
    let b = instance_with_timeout(backend_b.clone(), users, timeout);
    fed(&a).await;
    fed(&b).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let streams: Vec<_> = groups
        .into_iter()
        .map(|group| tokio::spawn(traffic(a.clone(), b.clone(), group, Arc::clone(&stop))))
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let faulted = Instant::now();
    on_cluster(cluster, fault).await;
    tokio::time::sleep(after).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut seen = Seen::default();
    for stream in streams {
        seen.add(stream.await.unwrap());
    }
    let mut failures = backend_a.failures();
    failures.extend(backend_b.failures());
    let slowest = (*backend_a.slowest.lock().unwrap()).max(*backend_b.slowest.lock().unwrap());
    println!("{seen:?}; slowest backend call answered: {slowest:?}");
    for failure in &failures {
        println!("backend: {failure}");
    }
    Run {
        seen,
        failures,
        faulted,
        a,
        b,
    }
}

/// No wrong answer, 503s only with `Retry-After`, all well again within 10 s of the fault,
/// and both instances working after it.
async fn judge_run(run: &Run) {
    let seen = &run.seen;
    assert_eq!(seen.live_refused, 0, "a live session was refused: {seen:?}");
    assert_eq!(
        seen.revoked_served, 0,
        "a revoked session was served: {seen:?}"
    );
    assert_eq!(
        seen.bare_unavailable, 0,
        "a 503 without Retry-After: {seen:?}"
    );
    assert!(seen.other.is_empty(), "unexpected answers: {seen:?}");
    assert!(seen.ok > 100, "too little traffic went through: {seen:?}");
    if let Some(last) = seen.last_failure {
        assert!(
            last.saturating_duration_since(run.faulted) < Duration::from_secs(10),
            "still failing {:?} after the fault: {seen:?}",
            last.saturating_duration_since(run.faulted)
        );
    }
    // And both instances work now, with their feeds up.
    for node in [&run.a, &run.b] {
        fed(node).await;
        let tokens = login_as(node, "user1").await;
        assert_eq!(access(node, &tokens).await, StatusCode::OK);
        assert_eq!(
            refresh_with(node, &tokens.refresh_token).await.0,
            StatusCode::OK
        );
    }
}

/// Two instances under traffic (users `user0` to `user39`) while `fault` runs on the
/// cluster; then the judgement: no wrong answer, 503s only with `Retry-After`, and all well
/// again within 10 s of the fault.
async fn through(fault: impl FnOnce(&mut Cluster) + Send + 'static) {
    let cluster = cluster().await;
    let users = many_users(40);
    let group = (0..40).map(|i| format!("user{i}")).collect();
    let run = run_through(
        &cluster,
        &users,
        vec![group],
        Duration::from_secs(12),
        // Short, so that a fault's 503s come soon.
        Duration::from_millis(500),
        fault,
    )
    .await;
    judge_run(&run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_failover_during_traffic_costs_only_brief_503s() {
    through(|cluster| {
        let primary = cluster.primaries()[0];
        cluster.manual_failover(primary);
        cluster.wait_healthy();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_during_traffic_costs_only_brief_503s() {
    through(|cluster| {
        let primary = cluster.primaries()[1];
        cluster.kill(primary);
        cluster.wait_healthy();
    })
    .await;
}

/// How many keys the moving shard's slot is padded with: enough that migrating that one
/// slot takes a while (`MIGRATE` ten keys at a time, about a tenth of a second), so that
/// the traffic meets it half moved.
const PADDING: usize = 3000;

/// A slot migrating answers `ASK` (the key already moved), `TRYAGAIN` (a script's keys
/// split between the two nodes, or a key it creates not there yet) and, once moved,
/// `MOVED`; none of them means the command ran, so none may cost a 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_resharded_away_and_back_during_traffic_cost_no_503() {
    let cluster = cluster().await;
    let users = many_users(1000);
    // The slots that move: the first primary's first thousand (`redis-cli --cluster
    // reshard` takes a source's lowest slots first; checked below).
    let (from, to, moving) = on_cluster(&cluster, |cluster| {
        let primaries = cluster.primaries();
        let moving: Vec<u16> = cluster.slots_of(primaries[0])[..1000].to_vec();
        (primaries[0], primaries[1], moving)
    })
    .await;
    // The users whose shard sits on a moving slot: 32 of them, 4 streams of 8.
    let probe = backend(&seeds(&cluster)).await;
    let mut slots: HashMap<String, u16> = HashMap::new();
    let mut movers = Vec::new();
    for i in 0..1000 {
        let id = format!("user{i}");
        let tag = probe.session_id_prefix(&id).unwrap();
        let slot = *slots.entry(tag.clone()).or_insert_with(|| {
            crate::common::cluster::cli(from, &["CLUSTER", "KEYSLOT", &tag])
                .trim()
                .parse()
                .unwrap()
        });
        if moving.contains(&slot) {
            movers.push(id);
        }
    }
    assert!(movers.len() >= 32, "only {} users move", movers.len());
    movers.truncate(32);
    let moving_tags: Vec<(String, u16)> = slots
        .into_iter()
        .filter(|(_, slot)| moving.contains(slot))
        .collect();
    // Each moving shard's slot padded, so that it is caught half moved.
    for (tag, _) in &moving_tags {
        let padded = crate::common::cluster::cli(
            from,
            &[
                "EVAL",
                "for i = 1, tonumber(ARGV[1]) do redis.call('SET', KEYS[1] .. i, 'x') end return 1",
                "1",
                &format!("pad:{{{tag}}}:"),
                &PADDING.to_string(),
            ],
        );
        assert_eq!(padded.trim(), "1", "padding {tag}: {padded}");
    }
    let stats = |cluster: &mut Cluster| {
        [
            cluster.count_stat("commandstats", "cmdstat_asking", "calls"),
            cluster.count_stat("errorstats", "errorstat_ASK", "count"),
            cluster.count_stat("errorstats", "errorstat_TRYAGAIN", "count"),
            cluster.count_stat("errorstats", "errorstat_MOVED", "count"),
        ]
    };
    let before = on_cluster(&cluster, stats).await;
    let groups = movers.chunks(8).map(<[String]>::to_vec).collect();
    let tags = moving_tags.clone();
    let run = run_through(
        &cluster,
        &users,
        groups,
        Duration::from_secs(5),
        // Under the 2 s default, above a loaded machine's slowest call (once over 500 ms
        // while two builds ran beside the test), and below the 1.28 s that redis-rs paused
        // on each TRYAGAIN before the fix: a regression is still a 503 here.
        Duration::from_secs(1),
        move |cluster| {
            cluster.reshard(from, to, 1000);
            cluster.wait_healthy();
            for (tag, slot) in &tags {
                assert_eq!(
                    cluster.owner_of(*slot),
                    Some(to),
                    "shard {tag} did not move"
                );
            }
            cluster.reshard(to, from, 1000);
            cluster.wait_healthy();
            for (tag, slot) in &tags {
                assert_eq!(
                    cluster.owner_of(*slot),
                    Some(from),
                    "shard {tag} did not move back"
                );
            }
        },
    )
    .await;
    let after = on_cluster(&cluster, stats).await;
    let [asking, ask, tryagain, moved] = [0, 1, 2, 3].map(|i| after[i] - before[i]);
    println!(
        "moving shards {moving_tags:?}: ASKING {asking}, ASK {ask}, TRYAGAIN {tryagain}, MOVED {moved}"
    );
    // The traffic did meet the slots half moved.
    assert!(ask + tryagain > 0, "the traffic met no slot half migrated");
    assert_eq!(
        run.seen.unavailable, 0,
        "503s while slots moved: {:?}; backend failures: {:#?}",
        run.seen, run.failures
    );
    assert!(run.failures.is_empty(), "{:#?}", run.failures);
    judge_run(&run).await;
}

/// The example server as `SESSION_BACKEND=redis-cluster` and `REDIS_URL` make it.
async fn example_backend(seeds: &str) -> Result<crate::backend::AnyBackend, String> {
    let seeds = seeds.to_owned();
    crate::backend::AnyBackend::from_vars(move |name| match name {
        "SESSION_BACKEND" => Some("redis-cluster".to_owned()),
        "REDIS_URL" => Some(seeds.clone()),
        _ => None,
    })
    .await
}

async fn example_server(backend: crate::backend::AnyBackend) -> String {
    let keys = tower_jwt_sessions::Keys::hs256(b"example-cluster-secret-of-32-bytes!").unwrap();
    let tuning = crate::app::Tuning {
        demo_users: 50,
        ..crate::app::Tuning::default()
    };
    let (app, _sessions) = crate::app::app_tuned(keys, tuning, backend).unwrap();
    crate::common::serve(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_example_servers_share_the_cluster() {
    let cluster = cluster().await;
    // One dead seed first, then the cluster's.
    let dead = format!("redis://127.0.0.1:{}", PrivateRedis::free_port());
    let seeds = format!("{dead},{}", seeds(&cluster));
    let one = example_server(example_backend(&seeds).await.unwrap()).await;
    let two = example_server(example_backend(&seeds).await.unwrap()).await;
    let client = reqwest::Client::new();
    let mut sessions = Vec::new();
    for n in 1..=50 {
        sessions.push(log_in(&one, &format!("user{n}")).await);
    }
    // The demo users' sessions are on every primary.
    let per_primary = on_cluster(&cluster, |cluster| {
        cluster
            .primaries()
            .iter()
            .map(|&p| cluster.count_keys(p, "tjs:{*}:s:*"))
            .collect::<Vec<_>>()
    })
    .await;
    assert!(per_primary.iter().all(|&n| n >= 5), "{per_primary:?}");
    assert_eq!(per_primary.iter().sum::<usize>(), 50);

    let refresh = sessions[0]["refresh_token"].as_str().unwrap();
    let access = sessions[0]["access_token"].as_str().unwrap();
    let id = sessions[0]["session_id"].as_str().unwrap();
    let refreshed = client
        .post(format!("{two}/sessions/refresh/"))
        .bearer_auth(refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(refreshed.status(), reqwest::StatusCode::OK);
    let me = |base: &str| client.get(format!("{base}/me")).bearer_auth(access).send();
    assert_eq!(me(&two).await.unwrap().status(), reqwest::StatusCode::OK);
    let ended = client
        .delete(format!("{one}/sessions/{id}"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), reqwest::StatusCode::NO_CONTENT);
    let seen = within(Duration::from_secs(1), async || {
        me(&two).await.unwrap().status() == reqwest::StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(
        seen.is_some(),
        "the other server still serves the ended session"
    );
}

#[tokio::test]
async fn a_bad_or_unreachable_cluster_is_a_one_line_error() {
    let dead = format!("redis://127.0.0.1:{}", PrivateRedis::free_port());
    let other = format!("redis://127.0.0.1:{}", PrivateRedis::free_port());
    for seeds in [
        dead.clone(),
        format!("{dead},{other}"),
        "redis://127.0.0.1:notaport".to_owned(),
        "not a url".to_owned(),
        String::new(),
        // The shared single Redis is not in cluster mode.
        crate::common::redis_keys::url(),
    ] {
        let err = example_backend(&seeds).await.expect_err(&seeds);
        assert!(err.starts_with("SESSION_BACKEND=redis-cluster: "), "{err}");
        assert!(!err.contains('\n'), "{seeds}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_503_of_the_example_on_the_cluster_carries_retry_after() {
    let cluster = cluster().await;
    let base = example_server(example_backend(&seeds(&cluster)).await.unwrap()).await;
    let login = log_in(&base, "testUser").await;
    on_cluster(&cluster, |cluster| {
        for port in cluster.primaries() {
            let replica = cluster.replica_of(port);
            cluster.kill(replica);
            cluster.kill(port);
        }
    })
    .await;
    every_503_carries_retry_after(&base, &login).await;
}
