//! RFC 9470 on any route.

use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use super::*;

/// RFC 9470 on any route: `RequireStepUpLayer` behind a verifier with DPoP allowed.
#[tokio::test]
async fn a_step_up_guards_any_route_and_challenges_a_dpop_client_with_dpop() {
    use tower_jwt_sessions::step_up::{RequireStepUpLayer, StepUp};
    use tower_jwt_sessions::verifier::{Issuer, ResourceMetadata};
    use tower_jwt_sessions::{Dpop, StandardClaims, Verifier};

    let idp = Idp::start();
    let verifier = Verifier::<StandardClaims>::builder()
        .issuer(Issuer::new(&idp.issuer).audience("http://resource.test"))
        .resource_metadata(ResourceMetadata::new("http://resource.test"))
        .dpop(Dpop::allowed())
        .build()
        .unwrap();
    let step_up = StepUp::new()
        .acr("urn:example:mfa")
        .max_age(Duration::from_secs(60));
    let app = axum::Router::new()
        .route("/wire", axum::routing::get(|| async { "sent" }))
        .layer(RequireStepUpLayer::<StandardClaims>::new(step_up).unwrap())
        .layer(verifier.layer());
    let base = crate::common::serve(app).await;
    assert!(
        within(Duration::from_secs(5), async || verifier.has_keys())
            .await
            .is_some()
    );
    let http = reqwest::Client::new();
    let now = crate::common::now();
    let get = async |authorization: String, proof: Option<String>| {
        let mut req = http
            .get(format!("{base}/wire"))
            .header("authorization", authorization);
        if let Some(proof) = proof {
            req = req.header("dpop", proof);
        }
        let res = req.send().await.unwrap();
        let challenge = res
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (res.status(), challenge)
    };
    let weak = idp
        .mint(json!({"claims": {"acr": "urn:example:pwd", "auth_time": now}}))
        .await;
    let (status, challenge) = get(format!("Bearer {weak}"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.starts_with(
            "Bearer error=\"insufficient_user_authentication\", error_description=\"a stronger \
             or more recent authentication of the user is required\", \
             acr_values=\"urn:example:mfa\", max_age=\"60\", \
             resource_metadata=\"http://resource.test/.well-known/oauth-protected-resource\""
        ),
        "{challenge}"
    );
    let strong = idp
        .mint(json!({"claims": {"acr": "urn:example:mfa", "auth_time": now}}))
        .await;
    assert_eq!(
        get(format!("Bearer {strong}"), None).await.0,
        StatusCode::OK
    );

    // A DPoP-bound token that falls short: the challenge is a DPoP one alone.
    let jkt = idp.client_jkt("a").await;
    let bound = idp
        .mint(json!({"claims": {"cnf": {"jkt": jkt}, "acr": "urn:example:mfa", "auth_time": now - 600}}))
        .await;
    let proof = idp
        .proof(json!({"htm": "GET", "htu": format!("{base}/wire"), "token": bound}))
        .await;
    let (status, challenge) = get(format!("DPoP {bound}"), Some(proof)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenge.starts_with("DPoP error=\"insufficient_user_authentication\"")
            && challenge.contains("max_age=\"60\"")
            && challenge.contains("algs=\"")
            && !challenge.contains("Bearer"),
        "{challenge}"
    );
}
