//! CORS for browser MCP clients, and the transport's DNS-rebinding rule: a request whose
//! `Origin` is not allowed is 403. A browser client that cannot read the 401's
//! `WWW-Authenticate` cannot start the OAuth dance, hence the exposed headers.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::ORIGIN;
use http::{HeaderName, HeaderValue, Method, Request, Response};
use tower_http::cors::{AllowOrigin, Cors, CorsLayer};
use tower_layer::Layer;
use tower_service::Service;

use super::reply;
use crate::error::ConfigError;
use crate::http::{ResponseBody, ResponseFuture};
use crate::well_known::origin_of;

/// The request headers an MCP client sends (MCP transport, SEP-2243, RFC 9449).
const ALLOWED: [&str; 8] = [
    "authorization",
    "content-type",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "mcp-session-id",
    "dpop",
    "last-event-id",
];

/// The response headers a browser client must read.
const EXPOSED: [&str; 4] = [
    "www-authenticate",
    "mcp-session-id",
    "mcp-protocol-version",
    "dpop-nonce",
];

/// CORS for an MCP server's every route (the endpoint, the metadata documents and their
/// preflights): allows `GET`, `POST`, `DELETE` and the headers MCP clients send
/// (`Authorization`, `Content-Type`, `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`,
/// `Mcp-Session-Id`, `DPoP`, `Last-Event-ID`), exposes `WWW-Authenticate`,
/// `Mcp-Session-Id`, `MCP-Protocol-Version` and `DPoP-Nonce`, and sends `Vary: Origin`. A
/// request whose `Origin` is not one of `origins` is 403 (requests without `Origin`, from
/// non-browser clients, pass). Put it outermost, around the verifier's layer.
///
/// ```
/// use tower_jwt_sessions::mcp::McpCorsLayer;
/// let cors = McpCorsLayer::new(["http://localhost:6274"])?;
/// # Ok::<(), tower_jwt_sessions::ConfigError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct McpCorsLayer {
    origins: Arc<[String]>,
    cors: CorsLayer,
}

impl McpCorsLayer {
    /// Allows the browser origins `origins` (`http(s)://host[:port]`); none allows no
    /// browser at all.
    pub fn new(origins: impl IntoIterator<Item = impl Into<String>>) -> Result<Self, ConfigError> {
        let mut normalised = Vec::new();
        let mut values = Vec::new();
        for origin in origins {
            let origin: String = origin.into();
            let Some(clean) = origin_of(&origin, false) else {
                return Err(ConfigError::BadOrigin(origin));
            };
            let value =
                HeaderValue::from_str(&clean).map_err(|_| ConfigError::BadOrigin(origin))?;
            values.push(value);
            normalised.push(clean);
        }
        let names = |list: &[&'static str]| -> Vec<HeaderName> {
            list.iter().map(|n| HeaderName::from_static(n)).collect()
        };
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::list(values))
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers(names(&ALLOWED))
            .expose_headers(names(&EXPOSED))
            .max_age(Duration::from_secs(600));
        Ok(McpCorsLayer {
            origins: normalised.into(),
            cors,
        })
    }
}

impl fmt::Debug for McpCorsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpCorsLayer")
            .field("origins", &self.origins)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for McpCorsLayer {
    type Service = McpCors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        McpCors {
            inner: self.cors.layer(inner),
            origins: Arc::clone(&self.origins),
        }
    }
}

/// The service of [`McpCorsLayer`].
#[derive(Clone)]
pub struct McpCors<S> {
    inner: Cors<S>,
    origins: Arc<[String]>,
}

impl<S> McpCors<S> {
    /// The CORS service around the inner service.
    pub fn get_ref(&self) -> &Cors<S> {
        &self.inner
    }
}

impl<S: fmt::Debug> fmt::Debug for McpCors<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpCors")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for McpCors<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body<Data = Bytes> + Default,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<<Cors<S> as Service<Request<ReqBody>>>::Future, Cors<S>, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let foreign = req.headers().get_all(ORIGIN).iter().any(|origin| {
            origin
                .to_str()
                .ok()
                .and_then(|origin| origin_of(origin, false))
                .is_none_or(|origin| !self.origins.contains(&origin))
        });
        if foreign {
            return ResponseFuture::answered(reply::ORIGIN_FORBIDDEN.response());
        }
        ResponseFuture::inner(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tower::ServiceExt;

    async fn send(origin: Option<&str>, method: Method) -> Response<ResponseBody<String>> {
        let layer = McpCorsLayer::new(["http://localhost:6274", "https://App.example"]).unwrap();
        let app = layer.layer(tower::service_fn(|_req: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::from("ok")))
        }));
        let mut req = Request::builder().method(method).uri("/mcp");
        if let Some(origin) = origin {
            req = req.header(ORIGIN, origin);
        }
        if let Some(h) = req.headers_mut() {
            h.insert(
                "access-control-request-method",
                HeaderValue::from_static("POST"),
            );
            h.insert(
                "access-control-request-headers",
                HeaderValue::from_static("authorization,mcp-method,mcp-name,dpop"),
            );
        }
        app.oneshot(req.body(String::new()).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn allowed_origins_read_the_challenge_and_foreign_ones_are_refused() {
        let ok = send(Some("http://localhost:6274"), Method::POST).await;
        assert_eq!(ok.status(), http::StatusCode::OK);
        let h = ok.headers();
        assert_eq!(h["access-control-allow-origin"], "http://localhost:6274");
        let exposed = h["access-control-expose-headers"].to_str().unwrap();
        for name in EXPOSED {
            assert!(exposed.contains(name), "{exposed}");
        }
        assert!(
            h.get_all("vary")
                .iter()
                .any(|v| v.to_str().unwrap().contains("origin"))
        );
        // Normalised: scheme and host in any case, the default port.
        assert_eq!(
            send(Some("https://app.EXAMPLE:443"), Method::POST)
                .await
                .status(),
            200
        );
        // Non-browser clients send no Origin.
        assert_eq!(send(None, Method::POST).await.status(), 200);
        for foreign in [
            "http://localhost:6275",
            "https://evil.example",
            "null",
            "http://localhost:6274/x",
        ] {
            let refused = send(Some(foreign), Method::POST).await;
            assert_eq!(refused.status(), http::StatusCode::FORBIDDEN, "{foreign}");
            assert!(
                refused
                    .headers()
                    .get("access-control-allow-origin")
                    .is_none()
            );
        }
    }

    #[tokio::test]
    async fn preflights_allow_the_mcp_headers() {
        let pre = send(Some("http://localhost:6274"), Method::OPTIONS).await;
        assert_eq!(pre.status(), http::StatusCode::OK);
        let allowed = pre.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap();
        for name in ALLOWED {
            assert!(allowed.contains(name), "{allowed}");
        }
        let methods = pre.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap();
        assert!(methods.contains("DELETE"), "{methods}");
        assert_eq!(
            send(Some("https://evil.example"), Method::OPTIONS)
                .await
                .status(),
            403
        );
        assert!(McpCorsLayer::new(["https://a.example/path"]).is_err());
        assert!(McpCorsLayer::new(["ftp://a.example"]).is_err());
    }
}
