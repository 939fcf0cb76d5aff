//! The example server's routes, shared with the integration tests (`tests/server.rs`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use tower::Layer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_jwt_sessions::axum::Require;
use tower_jwt_sessions::scopes::{Read, Write};
use tower_jwt_sessions::{
    AuthError, Claims, ConfigError, ErrorRenderer, Keys, MachinableClaims, MachinableUser,
    MemoryBackend, RefreshCookie, SessionError, SessionMeta, Sessions,
};

use crate::backend::AnyBackend;

/// The app's sessions: in the chosen store; users in this process (seeded below).
pub type AppSessions = Sessions<AnyBackend, MemoryBackend<MachinableClaims>>;

/// Every seeded user's password.
pub const PASSWORD: &str = "testPassword";
/// The project every seeded user belongs to.
pub const PROJECT: &str = "pet-demo";
/// In cookie mode, two tabs refreshing within this window both get the current tokens.
pub const ROTATION_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

struct User {
    id: String,
    /// A keyed digest of the password, never the password: compared in constant time, and
    /// always of the same length, so that timing tells nothing of the password's length.
    password_digest: String,
    claims: MachinableClaims,
}

/// HMAC-SHA256 of a password under a per-process key (an example's stand-in for a real
/// password hash such as argon2): fixed-length, so the comparison below is constant-time.
fn password_digest(password: &str) -> String {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS gives randomness");
        key
    });
    jsonwebtoken::crypto::sign(
        password.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(key),
        jsonwebtoken::Algorithm::HS256,
    )
    .expect("HMAC signing cannot fail")
}

#[derive(Clone)]
pub struct AppState {
    pub sessions: AppSessions,
    users: Arc<HashMap<String, User>>,
    pets: Arc<Mutex<Vec<serde_json::Value>>>,
}

fn seed_user(name: &str, id: &str, active: bool, read: bool, write: bool) -> (String, User) {
    let user = MachinableUser {
        id: id.to_owned(),
        name: name.to_owned(),
        active,
        read,
        write,
        kind: "project".to_owned(),
    };
    (
        name.to_owned(),
        User {
            id: id.to_owned(),
            password_digest: password_digest(PASSWORD),
            claims: MachinableClaims::new(PROJECT, user),
        },
    )
}

/// The app with its seeded users: `testUser` (read, write), `readOnlyUser` (read),
/// `inactiveUser` (inactive).
// The tests' entry point (they share this file); the binary reads its tuning from the env.
#[allow(dead_code)]
pub fn app(secret: &[u8]) -> Result<(Router, AppSessions), ConfigError> {
    app_tuned(
        Keys::hs256(secret)?,
        Tuning::default(),
        AnyBackend::Memory(MemoryBackend::new()),
    )
}

/// The bounds an operator may change (`scripts/soak.sh` makes them small, to reach them).
pub struct Tuning {
    /// Revocations remembered at once.
    pub revocation_budget: usize,
    /// Memory budget of the verified-token cache, `None` for off.
    pub token_cache_bytes: Option<u64>,
    /// The refresh token in an `HttpOnly` cookie for browser apps (`REFRESH_COOKIE=1`), with
    /// rotation on, as RFC 9700 asks of tokens held by browsers; `None`: Bearer only.
    pub refresh_cookie: Option<RefreshCookie>,
    /// Origins whose pages may call the API (`ALLOWED_ORIGINS`): CORS, with credentials, for
    /// exactly these; empty: no CORS.
    pub allowed_origins: Vec<HeaderValue>,
    /// This server's issuer URL and the resource its access tokens are for: with both (and
    /// public keys), access tokens are complete RFC 9068 tokens and the server publishes its
    /// RFC 8414 metadata, so that a resource server is configured from the issuer URL alone.
    pub issuer: Option<(String, String)>,
    /// DPoP (`DPOP=allowed` or `required`): a login with a proof binds its session to the
    /// proof's key; `None` (`DPOP=off`, the default): Bearer only.
    pub dpop: Option<tower_jwt_sessions::Dpop>,
    /// Extra users `user1` ... `userN` (`DEMO_USERS=N`), password `testPassword`, who may
    /// read and write: many users, to try a backend's spreading and load.
    pub demo_users: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            revocation_budget: tower_jwt_sessions::defaults::REVOCATION_BUDGET,
            token_cache_bytes: Some(tower_jwt_sessions::defaults::TOKEN_CACHE_BYTES),
            refresh_cookie: None,
            allowed_origins: Vec::new(),
            issuer: None,
            dpop: None,
            demo_users: 0,
        }
    }
}

impl Tuning {
    /// The browser settings from the environment (`var` reads one variable):
    /// `ALLOWED_ORIGINS` (comma-separated origins, such as `http://localhost:5173`) turns on
    /// CORS for them and admits them to a refresh by cookie; `REFRESH_COOKIE=1` puts the
    /// refresh token in a cookie scoped to the refresh route, `REFRESH_COOKIE_SITE_WIDE=1`
    /// in a site-wide `__Host-` cookie (`Path=/`). A bad value is a one-line error.
    // The binary's entry point and the tests'; not every test file calls it.
    #[allow(dead_code)]
    pub fn browser_from(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        let origins = var("ALLOWED_ORIGINS").unwrap_or_default();
        let origins = origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(origin)
            .collect::<Result<Vec<_>, _>>()?;
        let cookie = flag(&var, "REFRESH_COOKIE")?;
        let site_wide = flag(&var, "REFRESH_COOKIE_SITE_WIDE")?;
        if cookie || site_wide {
            let mut config = origins.iter().fold(RefreshCookie::new(), |config, origin| {
                config.allowed_origin(origin.to_owned())
            });
            if site_wide {
                config = config.site_wide();
            }
            self.refresh_cookie = Some(config);
        }
        self.allowed_origins = origins
            .iter()
            .map(|origin| HeaderValue::from_str(origin).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        Ok(())
    }
}

impl Tuning {
    /// The settings that name the URL clients use, from the environment (`var` reads one
    /// variable) and the address served: `PUBLIC_URL` (default `http://` + `addr`), the origin
    /// a DPoP proof's `htu` must name and, with public keys (`issuer`), the issuer URL and the
    /// base of the RFC 8414 metadata's `token_endpoint`, with `AUDIENCE` the resource its
    /// tokens are for (default the resource server example's `http://127.0.0.1:3100`); `DPOP`
    /// and `DPOP_NONCE_SECRET` (server nonces, RFC 9449 §8).
    #[allow(dead_code)]
    /// Every setting of the environment but the address, the keys and the backend: what
    /// `main` reads, in one place the tests call too. `issuer`: the keys are public, so the
    /// server is an RFC 9068 issuer at `PUBLIC_URL`.
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
        addr: &str,
        issuer: bool,
    ) -> Result<Tuning, String> {
        let mut tuning = Tuning::default();
        if let Some(budget) = var("REVOCATION_BUDGET") {
            tuning.revocation_budget = budget
                .parse()
                .map_err(|_| format!("REVOCATION_BUDGET={budget} is not a number"))?;
        }
        if let Some(bytes) = var("TOKEN_CACHE_BYTES") {
            let bytes: u64 = bytes
                .parse()
                .map_err(|_| format!("TOKEN_CACHE_BYTES={bytes} is not a number of bytes"))?;
            tuning.token_cache_bytes = Some(bytes).filter(|b| *b > 0);
        }
        tuning.browser_from(&var)?;
        tuning.public_from(&var, addr, issuer)?;
        if let Some(users) = var("DEMO_USERS") {
            tuning.demo_users = users
                .parse()
                .map_err(|_| format!("DEMO_USERS={users} is not a number of users"))?;
        }
        Ok(tuning)
    }

    pub fn public_from(
        &mut self,
        var: impl Fn(&str) -> Option<String>,
        addr: &str,
        issuer: bool,
    ) -> Result<(), String> {
        let public_url = crate::env::public_url(&var, addr)?;
        self.dpop = crate::env::dpop(&var, &public_url)?;
        if issuer {
            let audience = var("AUDIENCE").unwrap_or_else(|| "http://127.0.0.1:3100".to_owned());
            self.issuer = Some((public_url, audience));
        }
        Ok(())
    }
}

/// `0`/unset or `1`; anything else is a mistake worth stopping for.
fn flag(var: &impl Fn(&str) -> Option<String>, name: &str) -> Result<bool, String> {
    match var(name).as_deref() {
        None | Some("") | Some("0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(format!("{name}={other} is not 0 or 1")),
    }
}

/// One origin of `ALLOWED_ORIGINS`, as browsers write it in `Origin`: CORS compares it byte
/// for byte.
fn origin(value: &str) -> Result<String, String> {
    crate::env::origin(value).ok_or_else(|| {
        format!("ALLOWED_ORIGINS: {value} is not an origin such as http://localhost:5173")
    })
}

/// CORS for the app's origins, outermost: it answers preflights itself and adds its headers
/// to every answer, the session layer's refusals included, so that the page can read a 401
/// or a 503 (and tell "signed out" from "try again") instead of a network error.
fn cors(origins: Vec<HeaderValue>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        // The refresh cookie only rides on credentialed requests.
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-requested-with"),
            HeaderName::from_static("dpop"),
        ])
        .expose_headers([
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
            HeaderName::from_static("dpop-nonce"),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// [`app`] with its bounds and its session backend given.
pub fn app_tuned(
    keys: Keys,
    tuning: Tuning,
    backend: AnyBackend,
) -> Result<(Router, AppSessions), ConfigError> {
    // With public keys, other services verify our tokens from the JWKS document; an HMAC
    // secret is never published, so with HS256 the path is a plain 404.
    let jwks = (keys.algorithm().family() != jsonwebtoken::AlgorithmFamily::Hmac)
        .then_some(tower_jwt_sessions::defaults::JWKS_PATH);
    let mut builder = Sessions::builder(keys, backend, MemoryBackend::new())
        .jwks_path(jwks)
        // Public either way: without keys to publish it is a plain 404, not a 401.
        .public_path(tower_jwt_sessions::defaults::JWKS_PATH)
        .revocation_budget(tuning.revocation_budget)
        .token_cache_bytes(tuning.token_cache_bytes)
        .error_renderer(ErrorRenderer::default().with_realm(PROJECT))
        .public_path("/health")
        .public_route(axum::http::Method::POST, "/sessions/");
    if let Some((issuer, audience)) = tuning.issuer {
        builder = builder.issuer(issuer).audience(audience).client_id(PROJECT);
    }
    if let Some(dpop) = tuning.dpop {
        builder = builder.dpop(dpop);
    }
    if let Some(cookie) = tuning.refresh_cookie {
        builder = builder
            .refresh_cookie(cookie)
            .rotate_refresh_tokens(ROTATION_GRACE);
    }
    let sessions = builder.build()?;
    let users: HashMap<String, User> = [
        seed_user("testUser", "5c868d40a7748bb224833f4b", true, true, true),
        seed_user(
            "readOnlyUser",
            "5c868d40a7748bb224833f4c",
            true,
            true,
            false,
        ),
        seed_user(
            "inactiveUser",
            "5c868d40a7748bb224833f4d",
            false,
            true,
            true,
        ),
    ]
    .into_iter()
    .chain((1..=tuning.demo_users).map(|n| {
        // Ids of the same shape as the seeded ones, never equal to them.
        seed_user(
            &format!("user{n}"),
            &format!("de{n:022x}"),
            true,
            true,
            true,
        )
    }))
    .collect();
    // The refresh route reads each user's current claims from the backend.
    for user in users.values() {
        sessions
            .users()
            .set_user(user.id.clone(), user.claims.clone());
    }
    let state = AppState {
        sessions: sessions.clone(),
        users: Arc::new(users),
        pets: Arc::new(Mutex::new(vec![json!({"id": 1, "name": "Rex"})])),
    };
    let router = Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route(
            "/sessions/",
            post(login).get(list_sessions).delete(revoke_all_sessions),
        )
        .route(
            "/sessions",
            post(login).get(list_sessions).delete(revoke_all_sessions),
        )
        .route("/sessions/others", delete(revoke_other_sessions))
        .route("/sessions/{id}", delete(revoke_session))
        .route("/me", get(me))
        .route("/api/pets", get(list_pets).post(create_pet))
        .with_state(state);
    // The layer wraps the whole router rather than each route (`Router::layer`), so it sees
    // every request before routing: `/sessions/refresh` can never be taken for
    // `/sessions/{id}`, whose method rules would then add their own `Allow` header.
    let guarded = sessions.axum_layer().layer(router);
    let app = if tuning.allowed_origins.is_empty() {
        Router::new().fallback_service(guarded)
    } else {
        Router::new().fallback_service(cors(tuning.allowed_origins).layer(guarded))
    };
    Ok((app, sessions))
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

fn auth_error(sessions: &AppSessions, err: &AuthError) -> Response {
    sessions.error_response(err).map(Body::from)
}

fn session_error(err: SessionError) -> Response {
    match err {
        SessionError::UserInactive => error(StatusCode::FORBIDDEN, "the user is inactive"),
        // As the layer's own 503s: a server fault the client may retry shortly, with its
        // tokens kept.
        SessionError::Backend(_) => {
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the session backend is unavailable",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        _ => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the session could not be created",
        ),
    }
}

/// A failed login: 401 with the JSON error and a challenge for HTTP Basic.
///
/// Browsers answer a `Basic` challenge with their own sign-in dialog, even on a page's
/// `fetch`, which then never settles. A request made by a script (Fetch Metadata's
/// `Sec-Fetch-Mode` other than `navigate`, or the `X-Requested-With` that script libraries
/// send) gets the same challenge under the scheme name `xBasic`, which no browser acts on:
/// RFC 9110 wants a challenge on every 401, and the script reads the JSON. Navigations and
/// clients that are not browsers (curl sends no `Sec-Fetch-*`) still get `Basic`.
fn basic_challenge(headers: &HeaderMap, message: &str) -> Response {
    let by_script = headers.contains_key("x-requested-with")
        || headers
            .get("sec-fetch-mode")
            .is_some_and(|mode| mode != "navigate");
    let challenge = if by_script {
        "xBasic realm=\"pet-demo\", charset=\"UTF-8\""
    } else {
        "Basic realm=\"pet-demo\", charset=\"UTF-8\""
    };
    let mut response = error(StatusCode::UNAUTHORIZED, message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    // The challenge depends on these request headers.
    response.headers_mut().append(
        header::VARY,
        HeaderValue::from_static("sec-fetch-mode, x-requested-with"),
    );
    response
}

/// `user:password` from `Authorization: Basic ...`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    // Machinable's docs build the header with `echo "u:p" | base64`, which adds a newline.
    let decoded = decoded.strip_suffix('\n').unwrap_or(&decoded);
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let Some((name, password)) = basic_credentials(&headers) else {
        return basic_challenge(&headers, "HTTP Basic credentials are required");
    };
    // An unknown user costs the same digest and comparison as a known one.
    let digest = password_digest(&password);
    let known = state.users.get(&name);
    let expected = known.map_or(digest.as_str(), |user| user.password_digest.as_str());
    let user = match known {
        Some(user) if constant_time_eq(expected.as_bytes(), digest.as_bytes()) => user,
        _ => return basic_challenge(&headers, "invalid user name or password"),
    };
    if !user.claims.user.active {
        return error(StatusCode::FORBIDDEN, "the user is inactive");
    }
    // With DPoP on, a proof binds the session to its key (required with DPOP=required).
    let binding = match state.sessions.login_proof(&method, &uri, &headers).await {
        Ok(binding) => binding,
        Err(err) => return state.sessions.error_response(&err).map(Into::into),
    };
    let meta = binding.bind(SessionMeta {
        ip: peer.map(|Extension(ConnectInfo(addr))| addr.ip().to_string()),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        ..SessionMeta::default()
    });
    let issued = match state.sessions.create(&user.id, &user.claims, meta).await {
        Ok(issued) => issued,
        Err(err) => return session_error(err),
    };
    let mut body = json!({
        "message": "Successfully logged in",
        "access_token": issued.access_token,
        "session_id": issued.session_id,
    });
    if issued.token_type == tower_jwt_sessions::dpop::TokenType::Dpop {
        body["token_type"] = json!(issued.token_type);
    }
    let mut response = match issued.refresh_cookie() {
        // Cookie mode: the refresh token never reaches the page's scripts.
        Some(cookie) => {
            let mut response = (StatusCode::CREATED, Json(body)).into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, cookie.clone());
            response
        }
        None => {
            body["refresh_token"] = json!(issued.refresh_token);
            (StatusCode::CREATED, Json(body)).into_response()
        }
    };
    // RFC 6749 §5.1: an answer carrying tokens must not be cached.
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `204 No Content`, clearing the refresh cookie (in cookie mode) when the caller's own
/// session ended.
fn signed_out(sessions: &AppSessions, own_session_ended: bool) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(clear) = sessions
        .clear_refresh_cookie()
        .filter(|_| own_session_ended)
    {
        response.headers_mut().insert(header::SET_COOKIE, clear);
    }
    response
}

async fn list_sessions(
    State(state): State<AppState>,
    claims: Claims<MachinableClaims>,
) -> Response {
    match state.sessions.list(claims.subject()).await {
        Ok(items) => Json(json!({ "items": items })).into_response(),
        Err(err) => session_error(err),
    }
}

async fn revoke_session(
    State(state): State<AppState>,
    claims: Claims<MachinableClaims>,
    Path(id): Path<String>,
) -> Response {
    match state.sessions.revoke_for_user(claims.subject(), &id).await {
        Ok(true) => signed_out(&state.sessions, claims.session_id() == Some(id.as_str())),
        Ok(false) => error(StatusCode::NOT_FOUND, "session not found"),
        Err(err) => session_error(err),
    }
}

/// Sign out everywhere: every session of the caller, on every instance.
async fn revoke_all_sessions(
    State(state): State<AppState>,
    claims: Claims<MachinableClaims>,
) -> Response {
    match state.sessions.revoke_all(claims.subject()).await {
        Ok(_) => signed_out(&state.sessions, true),
        Err(err) => session_error(err),
    }
}

/// Sign out the other devices: every session of the caller but the one of this token.
async fn revoke_other_sessions(
    State(state): State<AppState>,
    claims: Claims<MachinableClaims>,
) -> Response {
    // The layer's own tokens always name their session; never fall back to "every session".
    let Some(current) = claims.session_id() else {
        return error(StatusCode::UNAUTHORIZED, "the token names no session");
    };
    match state
        .sessions
        .revoke_others(claims.subject(), current)
        .await
    {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(err) => session_error(err),
    }
}

async fn me(claims: Claims<MachinableClaims>) -> Response {
    Json(claims).into_response()
}

async fn list_pets(State(state): State<AppState>, claims: Require<Read>) -> Response {
    if !claims.in_project(PROJECT) {
        return auth_error(&state.sessions, &AuthError::insufficient_scope(PROJECT));
    }
    let pets = state.pets.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Json(json!({ "items": pets })).into_response()
}

#[derive(Deserialize)]
struct NewPet {
    name: String,
}

async fn create_pet(
    State(state): State<AppState>,
    claims: Require<Write>,
    body: axum::body::Bytes,
) -> Response {
    if !claims.in_project(PROJECT) {
        return auth_error(&state.sessions, &AuthError::insufficient_scope(PROJECT));
    }
    let pet: NewPet = match serde_json::from_slice(&body) {
        Ok(pet) => pet,
        Err(_) => return error(StatusCode::BAD_REQUEST, "expected {\"name\": \"...\"}"),
    };
    let mut pets = state.pets.lock().unwrap_or_else(|e| e.into_inner());
    let pet = json!({ "id": pets.len() + 1, "name": pet.name });
    pets.push(pet.clone());
    (StatusCode::CREATED, Json(pet)).into_response()
}
