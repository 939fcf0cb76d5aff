//! The MCP layer's own refusals of a request's shape, in one table: JSON-RPC errors (the
//! MCP transport's form), not RFC 6750 challenges, since nothing is wrong with the
//! credentials. Texts are fixed; they never repeat what the request said.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};

/// A refusal of the request's shape: the status, the JSON-RPC error code and a fixed text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    status: StatusCode,
    code: i32,
    message: &'static str,
}

const fn bad(code: i32, message: &'static str) -> Reply {
    Reply {
        status: StatusCode::BAD_REQUEST,
        code,
        message,
    }
}

/// JSON-RPC "Invalid Request".
const INVALID_REQUEST: i32 = -32600;
/// JSON-RPC "Parse error".
const PARSE_ERROR: i32 = -32700;
/// MCP's "header mismatch" (SEP-2243).
const HEADER_MISMATCH_CODE: i32 = -32020;

/// `NAME = reply,` for each refusal, and [`ALL`] for the tests.
macro_rules! replies {
    ($($name:ident = $reply:expr,)*) => {
        $(pub(crate) const $name: Reply = $reply;)*
        #[cfg(test)]
        pub(crate) const ALL: &[Reply] = &[$($name,)*];
    };
}

replies! {
    HEADER_MISMATCH = bad(
        HEADER_MISMATCH_CODE,
        "the Mcp-Method and Mcp-Name headers do not say what the body says"
    ),
    HEADERS_MISSING = bad(
        HEADER_MISMATCH_CODE,
        "this protocol version requires the Mcp-Method and Mcp-Name headers"
    ),
    HEADER_TWICE = bad(HEADER_MISMATCH_CODE, "an MCP header was sent more than once"),
    HEADER_UNREADABLE = bad(HEADER_MISMATCH_CODE, "an MCP header value could not be read"),
    BATCH_FORBIDDEN = bad(INVALID_REQUEST, "this protocol version does not allow JSON-RPC batches"),
    NOT_JSON_RPC = bad(PARSE_ERROR, "the body is not one JSON-RPC message or a batch of them, each member once"),
    BODY_UNREADABLE = bad(INVALID_REQUEST, "the request body could not be read"),
    ORIGIN_FORBIDDEN = Reply {
        status: StatusCode::FORBIDDEN,
        code: INVALID_REQUEST,
        message: "requests from this origin are not allowed",
    },
    BODY_TOO_LARGE = Reply {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: INVALID_REQUEST,
        message: "the request body is larger than this server accepts",
    },
}

impl Reply {
    /// The response: `{"jsonrpc":"2.0","id":null,"error":{"code":..,"message":".."}}`.
    pub(crate) fn response(self) -> Response<Bytes> {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {"code": self.code, "message": self.message},
        });
        let mut response = Response::new(Bytes::from(body.to_string()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reply_says_one_thing_as_json_rpc() {
        let mut seen = std::collections::HashSet::new();
        for reply in ALL {
            assert!(seen.insert(reply.message), "said twice: {}", reply.message);
            let response = reply.response();
            assert!(response.status().is_client_error());
            let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
            assert_eq!(body["jsonrpc"], "2.0");
            assert_eq!(body["error"]["code"], reply.code);
        }
        assert_eq!(HEADER_MISMATCH.response().status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            BODY_TOO_LARGE.response().status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }
}
