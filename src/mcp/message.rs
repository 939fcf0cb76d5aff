//! What an MCP request asks for: the JSON-RPC method and name of each call in its body, and
//! the `Mcp-Method`, `Mcp-Name` and `MCP-Protocol-Version` headers that mirror them
//! (SEP-2243). Read strictly: a member given twice, a name that is not a string, a header
//! given twice are refusals, never a guess, so that no reading of the request lets a call
//! run that another reading would refuse.

use std::borrow::Cow;
use std::fmt;

use base64::Engine;
use http::{HeaderMap, HeaderValue};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::reply::{self, Reply};

/// The revision that mirrors the method and name in headers (SEP-2243) and requires them.
pub(crate) const HEADERS_REQUIRED_FROM: &str = "2026-07-28";
/// The revision that removed JSON-RPC batches (2025-06-18); earlier ones (2025-03-26) allow
/// them, and a request without `MCP-Protocol-Version` is taken as 2025-03-26 (the transport's
/// rule).
const BATCHES_FORBIDDEN_FROM: &str = "2025-06-18";

/// One JSON-RPC message of the body: its method (none for a response), and the name the
/// method carries (`params.name`, `params.uri` or `params.taskId`, by method).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Call<'a> {
    pub(crate) method: Option<Cow<'a, str>>,
    pub(crate) name: Option<Cow<'a, str>>,
}

/// The member of `params` that names what a method acts on (rmcp's and SEP-2243's table).
fn name_member(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Some("uri"),
        "tasks/get" | "tasks/update" | "tasks/cancel" => Some("taskId"),
        _ => None,
    }
}

/// The SEP-2243 headers of a request, each read once (kept as the request has them: a
/// clone of a header value copies no bytes).
#[derive(Debug, Default)]
pub(crate) struct Mirrored {
    version: Option<HeaderValue>,
    method: Option<HeaderValue>,
    name: Option<Name>,
}

/// `Mcp-Name` as sent, or decoded from its Base64 form.
#[derive(Debug)]
enum Name {
    Sent(HeaderValue),
    Decoded(String),
}

/// A header value checked visible ASCII by [`single`].
fn text(value: &HeaderValue) -> &str {
    value.to_str().unwrap_or_default()
}

impl Mirrored {
    /// Reads the headers: any of them twice, not visible ASCII, or an `Mcp-Name` whose
    /// Base64 form does not decode is a 400.
    pub(crate) fn read(headers: &HeaderMap) -> Result<Mirrored, Reply> {
        let version = single(headers, "mcp-protocol-version")?;
        let method = single(headers, "mcp-method")?;
        let name = match single(headers, "mcp-name")? {
            Some(raw) => match decode_name(text(&raw)) {
                Decoded::Plain => Some(Name::Sent(raw)),
                Decoded::Base64(Some(name)) => Some(Name::Decoded(name)),
                Decoded::Base64(None) => return Err(reply::HEADER_UNREADABLE),
            },
            None => None,
        };
        Ok(Mirrored {
            version,
            method,
            name,
        })
    }

    /// Whether the request is of a revision that requires the headers.
    pub(crate) fn requires_headers(&self) -> bool {
        self.version
            .as_ref()
            .is_some_and(|v| text(v) >= HEADERS_REQUIRED_FROM)
    }

    /// Whether the request's revision allows a JSON-RPC batch.
    pub(crate) fn allows_batches(&self) -> bool {
        self.version
            .as_ref()
            .is_none_or(|v| text(v) < BATCHES_FORBIDDEN_FROM)
    }

    /// The call the headers name, if they name one: (method, name).
    pub(crate) fn call(&self) -> Option<(&str, Option<&str>)> {
        Some((text(self.method.as_ref()?), self.name()))
    }

    fn name(&self) -> Option<&str> {
        match self.name.as_ref()? {
            Name::Sent(value) => Some(text(value)),
            Name::Decoded(name) => Some(name),
        }
    }

    /// Checks the body's calls against the headers: when present, they must say what the
    /// body says (a batch cannot be mirrored); a revision that requires them must have them.
    pub(crate) fn check(&self, calls: &[Call<'_>]) -> Result<(), Reply> {
        let single = match calls {
            [call] => Some(call),
            _ => None,
        };
        let has_method = calls.iter().any(|call| call.method.is_some());
        if self.method.is_none() && self.name.is_none() {
            return if self.requires_headers() && has_method {
                Err(reply::HEADERS_MISSING)
            } else {
                Ok(())
            };
        }
        let Some(call) = single else {
            return Err(reply::HEADER_MISMATCH);
        };
        if call.method.as_deref() != self.method.as_ref().map(text)
            || call.name.as_deref() != self.name()
        {
            return Err(reply::HEADER_MISMATCH);
        }
        Ok(())
    }
}

/// The one value of header `name`, if any; twice, or not visible ASCII, is a 400.
fn single(headers: &HeaderMap, name: &str) -> Result<Option<HeaderValue>, Reply> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(reply::HEADER_TWICE);
    }
    value.to_str().map_err(|_| reply::HEADER_UNREADABLE)?;
    Ok(Some(value.clone()))
}

/// What [`decode_name`] made of a value.
enum Decoded {
    /// Not in the Base64 form: the value as it is.
    Plain,
    /// In the Base64 form: the name, or `None` when it does not decode to UTF-8.
    Base64(Option<String>),
}

/// SEP-2243's value encoding: `=?base64?<standard Base64 of UTF-8>?=` (lowercase markers),
/// else the value as it is.
fn decode_name(raw: &str) -> Decoded {
    match raw
        .strip_prefix("=?base64?")
        .and_then(|inner| inner.strip_suffix("?="))
    {
        Some(inner) => Decoded::Base64(
            base64::engine::general_purpose::STANDARD
                .decode(inner)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok()),
        ),
        None => Decoded::Plain,
    }
}

/// The calls of a body: one message, or a batch (`batch` says whether one is allowed). Not
/// JSON, not JSON-RPC messages, a member given twice or a name that is not a string is a 400.
pub(crate) fn calls(body: &[u8], batch_allowed: bool) -> Result<Vec<Call<'_>>, Reply> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        if !batch_allowed {
            return Err(reply::BATCH_FORBIDDEN);
        }
        let Batch(messages) = serde_json::from_slice(body).map_err(|_| reply::NOT_JSON_RPC)?;
        if messages.is_empty() {
            return Err(reply::NOT_JSON_RPC);
        }
        return messages.into_iter().map(Message::into_call).collect();
    }
    let message: Message = serde_json::from_slice(body).map_err(|_| reply::NOT_JSON_RPC)?;
    Ok(vec![message.into_call()?])
}

struct Batch<'de>(Vec<Message<'de>>);

impl<'de> de::Deserialize<'de> for Batch<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Messages;
        impl<'de> Visitor<'de> for Messages {
            type Value = Batch<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC batch")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Batch<'de>, A::Error> {
                let mut messages = Vec::new();
                while let Some(message) = seq.next_element()? {
                    messages.push(message);
                }
                Ok(Batch(messages))
            }
        }
        deserializer.deserialize_seq(Messages)
    }
}

/// One message as the wire has it: members that matter read once (borrowed from the body
/// unless escaped), the rest skipped.
#[derive(Default)]
struct Message<'de> {
    method: Option<Cow<'de, str>>,
    params: Option<Params<'de>>,
}

/// `params`' naming members, each kept as a string or marked as not one (`None`).
#[derive(Default)]
struct Params<'de> {
    name: Option<Option<Cow<'de, str>>>,
    uri: Option<Option<Cow<'de, str>>>,
    task_id: Option<Option<Cow<'de, str>>>,
}

impl<'de> Message<'de> {
    fn into_call(self) -> Result<Call<'de>, Reply> {
        let Some(method) = self.method else {
            return Ok(Call {
                method: None,
                name: None,
            });
        };
        let params = self.params.unwrap_or_default();
        let name = match name_member(&method) {
            Some("name") => params.name,
            Some("uri") => params.uri,
            Some(_) => params.task_id,
            None => None,
        };
        let name = match name {
            Some(Some(name)) => Some(name),
            Some(None) => return Err(reply::NOT_JSON_RPC),
            None => None,
        };
        Ok(Call {
            method: Some(method),
            name,
        })
    }
}

/// A member's name, read without a copy. Names come unescaped (`"met\u0068od"` is
/// `method`): compared as the server reads them.
enum Key {
    Method,
    Params,
    Name,
    Uri,
    TaskId,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Name;
        impl Visitor<'_> for Name {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
                Ok(match name {
                    "method" => Key::Method,
                    "params" => Key::Params,
                    "name" => Key::Name,
                    "uri" => Key::Uri,
                    "taskId" => Key::TaskId,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(Name)
    }
}

/// A value that is a string (borrowed from the body unless escaped), or `None` for any
/// other value, which is read and dropped.
struct Text<'de>(Option<Cow<'de, str>>);

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Value;
        impl<'de> Visitor<'de> for Value {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text<'de>, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        deserializer.deserialize_any(Value)
    }
}

/// A member met twice: the serde error that refuses the message.
fn twice<E: de::Error>(member: &'static str) -> E {
    E::duplicate_field(member)
}

impl<'de> de::Deserialize<'de> for Message<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Message<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC message object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Message<'de>, A::Error> {
                let mut message = Message::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Method if message.method.is_some() => return Err(twice("method")),
                        Key::Method => {
                            let Text(Some(method)) = map.next_value()? else {
                                return Err(de::Error::custom("the method is not a string"));
                            };
                            message.method = Some(method);
                        }
                        Key::Params if message.params.is_some() => return Err(twice("params")),
                        Key::Params => {
                            let params: Option<Params<'de>> = map.next_value()?;
                            message.params = Some(params.unwrap_or_default());
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(message)
            }
        }
        deserializer.deserialize_map(Members)
    }
}

impl<'de> de::Deserialize<'de> for Params<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Params<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON-RPC params as an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Params<'de>, A::Error> {
                let mut params = Params::default();
                while let Some(key) = map.next_key::<Key>()? {
                    let (slot, member) = match key {
                        Key::Name => (&mut params.name, "name"),
                        Key::Uri => (&mut params.uri, "uri"),
                        Key::TaskId => (&mut params.task_id, "taskId"),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if slot.is_some() {
                        return Err(twice(member));
                    }
                    let Text(value) = map.next_value()?;
                    *slot = Some(value);
                }
                Ok(params)
            }
        }
        deserializer.deserialize_map(Members)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call<'a>(method: &'a str, name: Option<&'a str>) -> Call<'a> {
        Call {
            method: Some(method.into()),
            name: name.map(Into::into),
        }
    }

    #[test]
    fn each_method_names_what_it_acts_on() {
        fn one(body: &str) -> Vec<Call<'_>> {
            calls(body.as_bytes(), false).unwrap()
        }
        assert_eq!(
            one(
                r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note","arguments":{"name":"x"}}}"#
            ),
            [call("tools/call", Some("add_note"))]
        );
        assert_eq!(
            one(r#"{"params":{"uri":"file:///a","name":"n"},"method":"resources/read"}"#),
            [call("resources/read", Some("file:///a"))]
        );
        assert_eq!(
            one(r#"{"method":"tools/list","params":{"name":"ignored"}}"#),
            [call("tools/list", None)]
        );
        assert_eq!(
            one(r#"{"method":"notifications/initialized"}"#),
            [call("notifications/initialized", None)]
        );
        assert_eq!(
            one(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            [Call {
                method: None,
                name: None
            }]
        );
        // Escapes are read as the server reads them.
        assert_eq!(
            one(r#"{"met\u0068od":"tools/call","params":{"na\u006de":"purge\u005fnotes"}}"#),
            [call("tools/call", Some("purge_notes"))]
        );
    }

    #[test]
    fn ambiguous_bodies_are_refused() {
        for body in [
            r#"{"method":"tools/call","method":"tools/list"}"#,
            r#"{"method":"tools/call","params":{"name":"whoami","name":"purge_notes"}}"#,
            r#"{"method":"tools/call","params":{"name":"whoami","na\u006de":"purge_notes"}}"#,
            r#"{"method":"tools/call","params":{},"params":{"name":"purge_notes"}}"#,
            r#"{"method":"tools/call","params":{"name":7}}"#,
            r#"{"method":"tools/call","params":["purge_notes"]}"#,
            r#"["tools/call",{"name":"purge_notes"}]"#,
            r#"{"method":7}"#,
            r#"{"method":"tools/call""#,
            "",
            "null",
            "[]",
            r#"[["tools/call"]]"#,
        ] {
            assert!(calls(body.as_bytes(), true).is_err(), "{body}");
        }
    }

    #[test]
    fn batches_only_where_the_revision_allows_them() {
        let batch = br#" [{"method":"tools/call","params":{"name":"a"}},{"method":"ping"}]"#;
        assert_eq!(calls(batch, false), Err(reply::BATCH_FORBIDDEN));
        assert_eq!(calls(batch, true).unwrap().len(), 2);
        let headers = |version: Option<&str>| {
            let mut map = HeaderMap::new();
            if let Some(v) = version {
                map.insert("mcp-protocol-version", v.parse().unwrap());
            }
            Mirrored::read(&map).unwrap()
        };
        assert!(headers(None).allows_batches());
        assert!(headers(Some("2025-03-26")).allows_batches());
        assert!(!headers(Some("2025-06-18")).allows_batches());
        assert!(!headers(Some("2025-11-25")).allows_batches());
        assert!(!headers(Some("2026-07-28")).allows_batches());
        assert!(headers(Some("2026-07-28")).requires_headers());
        assert!(!headers(Some("2025-11-25")).requires_headers());
    }

    #[test]
    fn headers_must_say_what_the_body_says() {
        let mirrored = |pairs: &[(&str, &str)]| {
            let mut map = HeaderMap::new();
            for (k, v) in pairs {
                map.append(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            Mirrored::read(&map)
        };
        let body = [call("tools/call", Some("add_note"))];
        let ok = mirrored(&[("mcp-method", "tools/call"), ("mcp-name", "add_note")]).unwrap();
        assert_eq!(ok.check(&body), Ok(()));
        // The Base64 form (SEP-2243) is decoded; the markers are lowercase only.
        let b64 = mirrored(&[
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?YWRkX25vdGU=?="),
        ]);
        assert_eq!(b64.unwrap().check(&body), Ok(()));
        let upper = mirrored(&[
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?BASE64?YWRkX25vdGU=?="),
        ]);
        assert_eq!(upper.unwrap().check(&body), Err(reply::HEADER_MISMATCH));
        assert_eq!(
            mirrored(&[("mcp-name", "=?base64?!!?=")]).err(),
            Some(reply::HEADER_UNREADABLE)
        );
        for lie in [
            &[("mcp-method", "tools/call"), ("mcp-name", "whoami")][..],
            &[("mcp-method", "tools/list"), ("mcp-name", "add_note")],
            &[("mcp-method", "tools/call")],
            &[("mcp-name", "add_note")],
        ] {
            assert_eq!(
                mirrored(lie).unwrap().check(&body),
                Err(reply::HEADER_MISMATCH),
                "{lie:?}"
            );
        }
        assert_eq!(
            mirrored(&[("mcp-method", "tools/call"), ("mcp-method", "tools/call")]).err(),
            Some(reply::HEADER_TWICE)
        );
        // Required from 2026-07-28 on, for every message with a method.
        let modern = mirrored(&[("mcp-protocol-version", "2026-07-28")]).unwrap();
        assert_eq!(modern.check(&body), Err(reply::HEADERS_MISSING));
        assert_eq!(
            modern.check(&[Call {
                method: None,
                name: None
            }]),
            Ok(())
        );
        let legacy = mirrored(&[("mcp-protocol-version", "2025-11-25")]).unwrap();
        assert_eq!(legacy.check(&body), Ok(()));
        // A batch cannot be mirrored.
        let two = [call("ping", None), call("ping", None)];
        assert_eq!(
            mirrored(&[("mcp-method", "ping")]).unwrap().check(&two),
            Err(reply::HEADER_MISMATCH)
        );
    }
}
