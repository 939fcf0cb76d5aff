//! The operator's view (feature `metrics`): Prometheus text scraped over HTTP after a login,
//! a refresh, an accepted and a refused request; every counter moved by exactly what
//! happened, and no user, session or token in any label.
#![cfg(feature = "metrics")]

mod common;

use std::convert::Infallible;

use common::*;
use http::header::AUTHORIZATION;
use http::{Request, Response, StatusCode};
use tower::{Layer, ServiceExt};

/// The value of one sample line, 0 when absent.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter(|line| {
            labels
                .iter()
                .all(|(k, v)| line.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn counters_move_by_exactly_what_happened() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .unwrap();
    let scrape = || async move {
        reqwest::get(format!("http://{addr}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // The listener starts in the background.
    let mut before = String::new();
    for _ in 0..50 {
        if let Ok(res) = reqwest::get(format!("http://{addr}/metrics")).await {
            before = res.text().await.unwrap();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let (sessions, issued) = signed_in().await;
    let send = |req: Request<String>| {
        let app = sessions
            .layer()
            .layer(tower::service_fn(|_: Request<String>| async {
                Ok::<_, Infallible>(Response::new(String::new()))
            }));
        async move { app.oneshot(req).await.unwrap().status() }
    };
    let bearer = |token: &str| format!("Bearer {token}");
    let refresh = Request::post("/sessions/refresh/")
        .header(AUTHORIZATION, bearer(&issued.refresh_token))
        .body(String::new())
        .unwrap();
    assert_eq!(send(refresh).await, StatusCode::OK);
    let accepted = Request::get("/me")
        .header(AUTHORIZATION, bearer(&issued.access_token))
        .body(String::new())
        .unwrap();
    assert_eq!(send(accepted).await, StatusCode::OK);
    let refused = Request::get("/me")
        .header(AUTHORIZATION, bearer(&issued.refresh_token))
        .body(String::new())
        .unwrap();
    assert_eq!(send(refused).await, StatusCode::UNAUTHORIZED);
    // A GET on the refresh route is no refresh attempt: one of the layer's other refusals.
    let wrong_method = Request::get("/sessions/refresh/")
        .body(String::new())
        .unwrap();
    assert_eq!(send(wrong_method).await, StatusCode::METHOD_NOT_ALLOWED);

    let after = scrape().await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    assert_eq!(
        delta("tjs_refresh_requests_total", &[("outcome", "refreshed")]),
        1.0
    );
    assert_eq!(
        delta("tjs_access_requests_total", &[("outcome", "accepted")]),
        1.0
    );
    assert_eq!(
        delta(
            "tjs_access_requests_total",
            &[
                ("outcome", "refused"),
                ("error", "invalid_token"),
                (
                    "reason",
                    "a refresh token cannot be used as an access token"
                )
            ]
        ),
        1.0
    );
    assert_eq!(
        delta("tjs_refresh_requests_total", &[("outcome", "refused")]),
        0.0
    );
    assert_eq!(
        delta(
            "tjs_access_requests_total",
            &[("outcome", "refused"), ("error", "method_not_allowed")]
        ),
        1.0
    );
    // Both tokens were new to the cache (the refused one was never inserted).
    assert_eq!(
        delta("tjs_token_cache_lookups_total", &[("result", "miss")]),
        2.0
    );
    // The login wrote the session, the refresh loaded it and read the user.
    assert_eq!(
        delta(
            "tjs_backend_calls_total",
            &[("op", "create"), ("result", "ok")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "tjs_backend_calls_total",
            &[("op", "load"), ("result", "ok")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "tjs_backend_calls_total",
            &[("op", "user claims"), ("result", "ok")]
        ),
        1.0
    );
    assert!(after.contains("tjs_backend_call_duration_seconds"));
    // Nothing personal in any label.
    for secret in [
        &issued.access_token,
        &issued.refresh_token,
        &issued.session_id,
        &"u1".to_owned(),
    ] {
        assert!(
            !after.contains(&format!("\"{secret}\"")),
            "{secret} in a label"
        );
    }

    #[cfg(feature = "jwks")]
    introspection_is_counted(&scrape().await, scrape).await;
}

/// Introspection calls by outcome, cache lookups and the call's duration, against a local
/// endpoint: active for `good`, inactive for anything else, 500 for `broken`.
#[cfg(feature = "jwks")]
async fn introspection_is_counted<F: std::future::Future<Output = String>>(
    before: &str,
    scrape: impl Fn() -> F,
) {
    use tower_jwt_sessions::verifier::{Introspection, Issuer};
    use tower_jwt_sessions::{StandardClaims, Verifier};

    let endpoint = axum::Router::new().route(
        "/introspect",
        axum::routing::post(|body: String| async move {
            let answer = match body.split('&').next() {
                Some("token=good") => r#"{"active":true,"scope":"read"}"#,
                Some("token=broken") => return Err(StatusCode::INTERNAL_SERVER_ERROR),
                _ => r#"{"active":false}"#,
            };
            Ok(([(http::header::CONTENT_TYPE, "application/json")], answer))
        }),
    );
    let base = serve(endpoint).await;
    let verifier = Verifier::<StandardClaims>::builder()
        .issuer(
            Issuer::new("https://as.example")
                .audience("api")
                .introspection(
                    Introspection::client_secret_basic("rs", "s")
                        .endpoint(format!("{base}/introspect")),
                ),
        )
        .build()
        .unwrap();
    let app = verifier
        .layer()
        .layer(tower::service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    for (token, status) in [
        ("good", StatusCode::OK),
        ("good", StatusCode::OK),
        ("bad", StatusCode::UNAUTHORIZED),
        ("broken", StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let req = Request::get("/me")
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .body(String::new())
            .unwrap();
        assert_eq!(app.clone().oneshot(req).await.unwrap().status(), status);
    }
    let after = scrape().await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(before, name, labels)
    };
    for (outcome, count) in [("active", 1.0), ("inactive", 1.0), ("failed", 1.0)] {
        assert_eq!(
            delta("tjs_introspection_calls_total", &[("outcome", outcome)]),
            count,
            "{outcome}"
        );
    }
    assert_eq!(
        delta(
            "tjs_introspection_cache_lookups_total",
            &[("result", "hit")]
        ),
        1.0
    );
    assert_eq!(
        delta(
            "tjs_introspection_cache_lookups_total",
            &[("result", "miss")]
        ),
        3.0
    );
    assert!(after.contains("tjs_introspection_call_duration_seconds"));
    assert!(!after.contains("\"good\""), "a token in a label");
}
