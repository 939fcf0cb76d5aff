//! Refresh-token rotation: each refresh retires the token used; a retired token used again
//! ends the session, except within the grace window; racing refreshes and stale caches of
//! other instances agree on one rotation.

use std::time::Duration;

use crate::common::client::login;
use crate::common::*;
use http::StatusCode;
use serde_json::Value;
use tower_jwt_sessions::{Keys, SessionBackend, Sessions};

fn sessions(backend: &Memory, grace: Duration) -> MemorySessions {
    let keys = Keys::hs256(SECRET).unwrap();
    Sessions::builder(keys, backend.clone(), backend.clone())
        .rotate_refresh_tokens(grace)
        .build()
        .unwrap()
}

async fn refresh(sessions: &MemorySessions, token: &str) -> (StatusCode, Value) {
    let reply = crate::common::client::refresh(sessions, token).await;
    (reply.status, reply.body)
}

async fn generation(backend: &Memory, id: &str) -> u64 {
    backend.load(id).await.unwrap().unwrap().generation
}

#[tokio::test]
async fn each_refresh_hands_out_a_new_refresh_token() {
    let backend = memory_with_u1();
    let sessions = sessions(&backend, Duration::from_secs(10));
    let issued = login(&sessions).await;
    let (status, body) = refresh(&sessions, &issued.refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["access_token"].is_string());
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, issued.refresh_token);
    assert_eq!(generation(&backend, &issued.session_id).await, 1);
    let (status, body) = refresh(&sessions, &second).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["refresh_token"].is_string());
    assert_eq!(generation(&backend, &issued.session_id).await, 2);
}

#[tokio::test]
async fn reuse_of_a_retired_token_ends_the_session() {
    let backend = memory_with_u1();
    let sessions = sessions(&backend, Duration::ZERO);
    let issued = login(&sessions).await;
    let (_, body) = refresh(&sessions, &issued.refresh_token).await;
    let second = body["refresh_token"].as_str().unwrap().to_owned();

    // The first token again: someone kept a copy.
    let (status, body) = refresh(&sessions, &issued.refresh_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(
        body["error_description"],
        "a retired refresh token was used again; the session has ended"
    );
    // The whole family is gone: the legitimate holder's newer token too.
    let (status, _) = refresh(&sessions, &second).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(sessions.list("u1").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_second_tab_within_the_grace_window_gets_the_current_tokens() {
    let backend = memory_with_u1();
    let sessions = sessions(&backend, Duration::from_secs(30));
    let issued = login(&sessions).await;
    let (_, first) = refresh(&sessions, &issued.refresh_token).await;
    let (status, second) = refresh(&sessions, &issued.refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(second["access_token"].is_string());
    // No second rotation: both tabs now hold generation 1.
    assert_eq!(generation(&backend, &issued.session_id).await, 1);
    let (status, _) = refresh(&sessions, second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(generation(&backend, &issued.session_id).await, 2);
    // Generation 1 from the first tab is now retired too, but within the grace window.
    let (status, _) = refresh(&sessions, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    // Generation 0 is two behind: reuse.
    let (status, _) = refresh(&sessions, &issued.refresh_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_refreshes_rotate_once() {
    let backend = memory_with_u1();
    let sessions = sessions(&backend, Duration::from_secs(30));
    let issued = login(&sessions).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let sessions = sessions.clone();
            let token = issued.refresh_token.clone();
            tokio::spawn(async move { refresh(&sessions, &token).await.0 })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(generation(&backend, &issued.session_id).await, 1);
}

#[tokio::test]
async fn instances_with_stale_caches_agree() {
    let backend = memory_with_u1();
    let one = sessions(&backend, Duration::from_secs(30));
    let two = sessions(&backend, Duration::from_secs(30));
    let issued = login(&one).await;
    // One rotates 0 -> 1.
    let (_, body) = refresh(&one, &issued.refresh_token).await;
    let gen1 = body["refresh_token"].as_str().unwrap().to_owned();
    // Two gets the old token within the grace window: it caches the session at generation 1.
    let (status, _) = refresh(&two, &issued.refresh_token).await;
    assert_eq!(status, StatusCode::OK);
    // One rotates 1 -> 2; two's cache still says 1.
    let (_, body) = refresh(&one, &gen1).await;
    let gen2 = body["refresh_token"].as_str().unwrap().to_owned();
    // Two is shown generation 2, newer than it knows: it reads the backend and rotates 2 -> 3.
    let (status, body) = refresh(&two, &gen2).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(generation(&backend, &issued.session_id).await, 3);
    // Generation 0 is now far behind on either instance: reuse, the session ends.
    let (status, _) = refresh(&one, &issued.refresh_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = refresh(&two, body["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_retired_token_replayed_on_an_instance_with_a_stale_cache_ends_the_session() {
    let backend = memory_with_u1();
    let (a, b) = (
        sessions(&backend, Duration::from_secs(30)),
        sessions(&backend, Duration::from_secs(30)),
    );
    let g0 = login(&a).await;
    let (_, body) = refresh(&b, &g0.refresh_token).await;
    let g1 = body["refresh_token"].as_str().unwrap().to_owned();
    // A lets generation 0 through within the grace window and caches the row at 1.
    assert_eq!(refresh(&a, &g0.refresh_token).await.0, StatusCode::OK);
    let (_, body) = refresh(&b, &g1).await;
    let g2 = body["refresh_token"].as_str().unwrap().to_owned();
    // Generation 0 is now two rotations old: reuse, whatever A's cache says.
    let (status, body) = refresh(&a, &g0.refresh_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(refresh(&b, &g2).await.0, StatusCode::UNAUTHORIZED);
}
