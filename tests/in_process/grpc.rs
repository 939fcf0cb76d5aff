//! The gRPC example driven by tonic-health's own client: a valid access token is SERVING,
//! every bad one is `UNAUTHENTICATED`. Tokens come from the HTTP example's login with the same
//! secret, which proves they are interchangeable.

#[path = "../../examples/grpc_server/app.rs"]
mod grpc_app;

use crate::common::*;
use jsonwebtoken::Algorithm;
use serde_json::json;
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tower_jwt_sessions::SessionMeta;

async fn start() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sessions = grpc_app::sessions(SECRET).unwrap();
    tokio::spawn(grpc_app::serve(listener, sessions));
    format!("http://{addr}")
}

async fn check(url: &str, authorization: Option<&str>) -> Result<ServingStatus, tonic::Status> {
    let channel = tonic::transport::Channel::from_shared(url.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    let mut request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    if let Some(value) = authorization {
        let value: MetadataValue<_> = value.parse().unwrap();
        request.metadata_mut().insert("authorization", value);
    }
    let response = client.check(request).await?;
    Ok(response.into_inner().status())
}

#[tokio::test]
async fn an_access_token_from_the_http_example_is_serving() {
    let url = start().await;
    let (_router, sessions) = crate::app::app(SECRET).unwrap();
    let claims = u1();
    let issued = sessions
        .create("u1", &claims, SessionMeta::default())
        .await
        .unwrap();
    let status = check(&url, Some(&format!("Bearer {}", issued.access_token)))
        .await
        .unwrap();
    assert_eq!(status, ServingStatus::Serving);

    // The refresh token of the same login is not an access token.
    let err = check(&url, Some(&format!("Bearer {}", issued.refresh_token)))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("refresh token"), "{}", err.message());
}

#[tokio::test]
async fn bad_credentials_are_unauthenticated() {
    let url = start().await;
    let expired = sign(
        &header(Algorithm::HS256, "at+jwt"),
        &access_claims("u1", "s1", now() - 3600, now() - 600),
        SECRET,
    );
    let other_secret = sign(
        &header(Algorithm::HS256, "at+jwt"),
        &access_claims("u1", "s1", now(), now() + 600),
        OTHER_SECRET,
    );
    let cases = [
        ("missing", None),
        ("garbage", Some("Bearer garbage".to_owned())),
        ("wrong scheme", Some("Basic dTpw".to_owned())),
        ("expired", Some(format!("Bearer {expired}"))),
        ("other secret", Some(format!("Bearer {other_secret}"))),
    ];
    for (name, authorization) in cases {
        let err = check(&url, authorization.as_deref()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{name}: {err:?}");
    }
    // The server is still up and serving good tokens.
    let good = sign(
        &header(Algorithm::HS256, "at+jwt"),
        &json!({"sub": "u1", "sid": "s1", "iat": now(), "exp": now() + 600,
                "token_use": "access", "projects": {"pet-demo": true},
                "user": {"id": "u1", "name": "n", "active": true, "read": true,
                         "write": true, "type": "project"}}),
        SECRET,
    );
    assert_eq!(
        check(&url, Some(&format!("Bearer {good}"))).await.unwrap(),
        ServingStatus::Serving
    );
}
