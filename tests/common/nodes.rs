//! Helpers for tests of several instances over a shared backend, and of backends on servers.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http::{Request, StatusCode};
use tower_jwt_sessions::{
    IssuedTokens, Keys, ReplayBackend, RotatingBackend, SessionBackend, Sessions, Users,
};

pub use super::client::login;
use super::{Memory, SECRET, u1};

/// The user directory of the backend tests: [`memory_with_u1`](super::memory_with_u1).
pub fn users() -> Memory {
    super::memory_with_u1()
}

pub fn instance<S: SessionBackend + RotatingBackend>(backend: S, users: &Memory) -> Node<S> {
    instance_with_timeout(backend, users, Duration::from_millis(500))
}

/// [`instance`] whose backend calls time out after `timeout` (a 503 then).
pub fn instance_with_timeout<S: SessionBackend + RotatingBackend>(
    backend: S,
    users: &Memory,
    timeout: Duration,
) -> Node<S> {
    Sessions::builder(Keys::hs256(SECRET).unwrap(), backend, users.clone())
        .rotate_refresh_tokens(Duration::from_secs(5))
        .backend_timeout(Some(timeout))
        .build()
        .unwrap()
}

/// One instance of the layer over a shared backend, users in this process.
pub type Node<S> = Sessions<S, Memory>;

// Over the one in-process client (`super::client`), answering what these scenarios compare.

pub async fn send<S: SessionBackend, U: Users>(
    node: &Sessions<S, U>,
    req: Request<String>,
) -> StatusCode {
    super::client::send(node, req).await.status
}

pub async fn access<S: SessionBackend, U: Users>(
    node: &Sessions<S, U>,
    tokens: &IssuedTokens,
) -> StatusCode {
    super::client::get(node, &tokens.access_token).await.status
}

/// The status of a refresh, and the rotated refresh token it handed out.
pub async fn refresh_with<S: SessionBackend, U: Users>(
    node: &Sessions<S, U>,
    token: &str,
) -> (StatusCode, Option<String>) {
    let reply = super::client::refresh(node, token).await;
    (reply.status, reply.refresh_token().map(str::to_owned))
}

/// Polls until `check` holds, for at most `within`; the time it took.
pub async fn within(within: Duration, mut check: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// A private `redis-server` on a free port, never the shared one.
pub struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    pub fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        PrivateRedis { child, port }
    }

    pub fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls every future on this task until all are done, as concurrent requests would be.
pub async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

/// Issue 17, item 2: A's cache holds the row at generation 1 (it let generation 0 through in
/// the grace window) when B rotates again to 2. Generation 0 replayed on A is then a retired
/// token two rotations old: the session ends everywhere, instead of A trusting its cache.
pub async fn a_retired_token_replayed_on_a_stale_instance_ends_the_session<S>(
    a: &Node<S>,
    b: &Node<S>,
) where
    S: SessionBackend + RotatingBackend,
{
    let g0 = login(a).await;
    let (status, g1) = refresh_with(b, &g0.refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    let g1 = g1.expect("rotation hands out generation 1");
    // Within the grace window: allowed, and A caches the row at generation 1.
    let (status, _) = refresh_with(a, &g0.refresh_token).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a second tab within the grace window"
    );
    let (status, g2) = refresh_with(b, &g1).await;
    assert_eq!(status, StatusCode::OK);
    let g2 = g2.expect("rotation hands out generation 2");

    let (status, leaked) = refresh_with(a, &g0.refresh_token).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "generation 0 replayed after two rotations got a token: {leaked:?}"
    );
    // Reuse ends the session on every instance, the rightful holder's included.
    assert_eq!(refresh_with(b, &g2).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh_with(a, &g2).await.0, StatusCode::UNAUTHORIZED);
}

/// Two instances: a revocation on B stops A's refresh and access tokens within a second,
/// both of which A had accepted (and cached) before.
pub async fn a_revocation_on_one_instance_reaches_the_other_within_a_second<S>(
    a: &Node<S>,
    b: &Node<S>,
) where
    S: SessionBackend + RotatingBackend,
{
    let tokens = login(a).await;
    let (status, rotated) = refresh_with(b, &tokens.refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    let rotated = rotated.expect("rotation hands out a new refresh token");
    assert_eq!(access(a, &tokens).await, StatusCode::OK);
    assert_eq!(access(b, &tokens).await, StatusCode::OK);

    assert!(b.revoke(&tokens.session_id).await.unwrap());
    let seen = within(Duration::from_secs(1), async || {
        access(a, &tokens).await == StatusCode::UNAUTHORIZED
    })
    .await;
    assert!(
        seen.is_some(),
        "instance A still accepts the revoked access token"
    );
    assert_eq!(refresh_with(a, &rotated).await.0, StatusCode::UNAUTHORIZED);
}

/// A session revoked before an instance starts: the new instance has never seen the token
/// nor the revocation, and its replay of the log (or, until then, the session itself) says
/// no.
pub async fn a_revocation_before_an_instance_starts_is_honoured_by_it<S>(
    a: &Node<S>,
    start: impl AsyncFnOnce() -> Node<S>,
) where
    S: SessionBackend + RotatingBackend,
{
    let tokens = login(a).await;
    assert!(a.revoke(&tokens.session_id).await.unwrap());
    let c = start().await;
    assert_eq!(access(&c, &tokens).await, StatusCode::UNAUTHORIZED);
}

/// One instance with DPoP allowed over a shared backend.
pub fn dpop_instance<S>(backend: S, users: &Memory) -> Node<S>
where
    S: SessionBackend + ReplayBackend,
{
    Sessions::builder(Keys::hs256(SECRET).unwrap(), backend, users.clone())
        .dpop(tower_jwt_sessions::Dpop::allowed())
        .backend_timeout(Some(Duration::from_millis(500)))
        .build()
        .unwrap()
}

/// `GET /me` on `node` with a token bound to the test issuer's client `a` and `proof`: the
/// status, and the refusal's description (empty when accepted).
pub async fn with_proof<S: SessionBackend, U: Users>(
    node: &Sessions<S, U>,
    token: &str,
    proof: &str,
) -> (StatusCode, String) {
    let req = Request::get("/me")
        .header("host", "node.test")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .body(String::new())
        .unwrap();
    let reply = super::client::send(node, req).await;
    let why = reply.body["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (reply.status, why)
}

/// A session bound to the test issuer's client `a`, and a proof of `GET http://node.test/me`
/// with its access token, made by that client.
pub async fn bound_session_and_proof<
    S: SessionBackend,
    U: Users<Claims = tower_jwt_sessions::MachinableClaims>,
>(
    node: &Sessions<S, U>,
    idp: &super::idp::Idp,
) -> (String, String) {
    let meta = tower_jwt_sessions::SessionMeta {
        dpop_jkt: Some(idp.client_jkt("a").await),
        ..Default::default()
    };
    let issued = node.create("u1", &u1(), meta).await.unwrap();
    assert_eq!(issued.token_type, tower_jwt_sessions::dpop::TokenType::Dpop);
    let proof = idp
        .proof(serde_json::json!({
            "htm": "GET", "htu": "http://node.test/me", "token": issued.access_token,
        }))
        .await;
    (issued.access_token, proof)
}

/// RFC 9449 §11.1 across instances: a proof accepted by one is refused by the other, which
/// shares only the backend.
pub async fn a_proof_replayed_on_another_instance_is_refused<S, U>(
    a: &Sessions<S, U>,
    b: &Sessions<S, U>,
    idp: &super::idp::Idp,
) where
    S: SessionBackend,
    U: Users<Claims = tower_jwt_sessions::MachinableClaims>,
{
    let replayed = (
        StatusCode::UNAUTHORIZED,
        "the DPoP proof was used before".to_owned(),
    );
    let (token, proof) = bound_session_and_proof(a, idp).await;
    assert_eq!(with_proof(a, &token, &proof).await.0, StatusCode::OK);
    assert_eq!(
        with_proof(b, &token, &proof).await,
        replayed,
        "accepted on the other instance"
    );
    let (token, proof) = bound_session_and_proof(b, idp).await;
    assert_eq!(with_proof(b, &token, &proof).await.0, StatusCode::OK);
    assert_eq!(with_proof(a, &token, &proof).await, replayed);
}
