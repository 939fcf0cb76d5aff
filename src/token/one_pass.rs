//! One pass over an access token's claims: the user's claim type is deserialized from the
//! payload while the registered claims are picked up on the way, instead of parsing the
//! payload once for each: 1.25 x on an HS256 verification (`one_pass` in `benches/README.md`).
//!
//! The user's type drives the parse; this module sits between it and serde_json, reading
//! each key first. A registered claim's value is read into its field and handed on to the
//! user's type from there, so that a type reading everything (`serde_json::Value`) still
//! sees it. Anything this pass cannot do (a claim type that does not walk
//! the object, a malformed or duplicated claim) returns `None`, and the caller parses twice,
//! which also gives the precise refusal.

use std::fmt;

use serde::de::value::{
    BorrowedStrDeserializer, MapDeserializer, SeqDeserializer, StringDeserializer, U64Deserializer,
    UnitDeserializer,
};
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;

use super::wire::{Audience, Confirmation, Registered, TokenUse};

/// The user's claims and the registered ones, from one parse; `None`: parse twice instead.
pub(super) fn parse<C: DeserializeOwned>(payload: &[u8]) -> Option<(Registered, C)> {
    // The payload is checked as UTF-8 once, here, so that serde_json reads it as text and
    // does not check each string again (`str_read` in `benches/README.md`). Not UTF-8: the
    // two parses refuse it.
    let text = std::str::from_utf8(payload).ok()?;
    let mut fields = Fields::default();
    let mut json = serde_json::Deserializer::from_str(text);
    let custom = C::deserialize(Tee {
        json: &mut json,
        fields: &mut fields,
    })
    .ok()?;
    json.end().ok()?;
    Some((fields.finish()?, custom))
}

#[derive(Clone, Copy)]
enum Field {
    Sub,
    Sid,
    Iat,
    Exp,
    Nbf,
    Iss,
    Aud,
    TokenUse,
    Generation,
    Cnf,
}

impl Field {
    fn of(key: &str) -> Option<Field> {
        Some(match key {
            "sub" => Field::Sub,
            "sid" => Field::Sid,
            "iat" => Field::Iat,
            "exp" => Field::Exp,
            "nbf" => Field::Nbf,
            "iss" => Field::Iss,
            "aud" => Field::Aud,
            "token_use" => Field::TokenUse,
            "gen" => Field::Generation,
            "cnf" => Field::Cnf,
            _ => return None,
        })
    }
}

/// The registered claims found so far; each may appear once, as with `Registered`'s derive.
#[derive(Default)]
struct Fields {
    seen: u16,
    sub: Option<String>,
    sid: Option<String>,
    iat: Option<u64>,
    exp: Option<u64>,
    nbf: Option<u64>,
    iss: Option<String>,
    aud: Option<Audience>,
    token_use: Option<TokenUse>,
    generation: Option<u64>,
    cnf: Option<Confirmation>,
}

impl Fields {
    /// Whether `field` was met before; marks it met.
    fn seen(&mut self, field: Field) -> bool {
        let bit = 1u16 << field as u16;
        let seen = self.seen & bit != 0;
        self.seen |= bit;
        seen
    }

    fn finish(self) -> Option<Registered> {
        Some(Registered {
            sub: self.sub?,
            sid: self.sid?,
            iat: self.iat?,
            exp: self.exp?,
            nbf: self.nbf,
            iss: self.iss,
            aud: self.aud,
            token_use: self.token_use?,
            generation: self.generation,
            cnf: self.cnf,
        })
    }
}

/// serde_json's deserializer, with every map it hands out wrapped in [`TeeMap`].
struct Tee<'a, 'de> {
    json: &'a mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
    fields: &'a mut Fields,
}

impl<'de> Deserializer<'de> for Tee<'_, 'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.json.deserialize_any(TeeVisitor {
            visitor,
            fields: self.fields,
        })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct TeeVisitor<'a, V> {
    visitor: V,
    fields: &'a mut Fields,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for TeeVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(TeeMap {
            map,
            fields: self.fields,
            pending: None,
        })
    }
}

struct TeeMap<'a, A> {
    map: A,
    fields: &'a mut Fields,
    /// The registered claim whose key was just read.
    pending: Option<Field>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TeeMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let Some(key) = self.map.next_key::<Key<'de>>()? else {
            return Ok(None);
        };
        match key {
            Key::Borrowed(key) => {
                self.pending = Field::of(key);
                seed.deserialize(BorrowedStrDeserializer::new(key))
                    .map(Some)
            }
            Key::Owned(key) => {
                self.pending = Field::of(&key);
                seed.deserialize(StringDeserializer::new(key)).map(Some)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        let Some(field) = self.pending.take() else {
            return self.map.next_value_seed(seed);
        };
        if self.fields.seen(field) {
            return Err(de::Error::custom("duplicate claim"));
        }
        // The common claims are read into their type and handed on from there; a string
        // borrowed from the payload stays borrowed.
        match field {
            Field::Sub | Field::Sid | Field::TokenUse => {
                let value = self.map.next_value::<Key<'de>>()?;
                let text = match &value {
                    Key::Borrowed(text) => text,
                    Key::Owned(text) => text.as_str(),
                };
                match field {
                    Field::Sub => self.fields.sub = Some(text.to_owned()),
                    Field::Sid => self.fields.sid = Some(text.to_owned()),
                    _ => {
                        self.fields.token_use = Some(
                            TokenUse::from_claim(text)
                                .ok_or_else(|| de::Error::custom("unknown token_use"))?,
                        )
                    }
                }
                match value {
                    Key::Borrowed(text) => seed.deserialize(BorrowedStrDeserializer::new(text)),
                    Key::Owned(text) => seed.deserialize(StringDeserializer::new(text)),
                }
            }
            Field::Iat | Field::Exp => {
                let value: u64 = self.map.next_value()?;
                match field {
                    Field::Iat => self.fields.iat = Some(value),
                    _ => self.fields.exp = Some(value),
                }
                seed.deserialize(U64Deserializer::new(value))
            }
            // Rarer, and of several shapes: read once as raw JSON, parsed for each side.
            // Optional numbers: `null` is `None`, as with `Registered`'s derive.
            Field::Nbf | Field::Generation => {
                let value: Option<u64> = self.map.next_value()?;
                match field {
                    Field::Nbf => self.fields.nbf = value,
                    _ => self.fields.generation = value,
                }
                match value {
                    Some(value) => seed.deserialize(U64Deserializer::new(value)),
                    None => seed.deserialize(UnitDeserializer::new()),
                }
            }
            Field::Iss => {
                let value: Option<String> = self.map.next_value()?;
                self.fields.iss.clone_from(&value);
                match value {
                    Some(value) => seed.deserialize(StringDeserializer::new(value)),
                    None => seed.deserialize(UnitDeserializer::new()),
                }
            }
            Field::Cnf => {
                let value: Option<Confirmation> = self.map.next_value()?;
                self.fields.cnf.clone_from(&value);
                match value {
                    Some(cnf) => seed.deserialize(MapDeserializer::<_, A::Error>::new(
                        std::iter::once(("jkt", cnf.jkt)),
                    )),
                    None => seed.deserialize(UnitDeserializer::new()),
                }
            }
            Field::Aud => {
                let value: Option<Audience> = self.map.next_value()?;
                self.fields.aud.clone_from(&value);
                match value {
                    Some(Audience::One(one)) => seed.deserialize(StringDeserializer::new(one)),
                    Some(Audience::Many(many)) => {
                        seed.deserialize(SeqDeserializer::<_, A::Error>::new(many.into_iter()))
                    }
                    None => seed.deserialize(UnitDeserializer::new()),
                }
            }
        }
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// A key, borrowed from the payload unless it had escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim name")
            }

            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(key))
            }

            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(key.to_owned()))
            }

            fn visit_string<E>(self, key: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(key))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machinable::MachinableClaims;

    const PAYLOAD: &str = r#"{"sub":"u1","sid":"s1","iat":10,"exp":20,"token_use":"access","projects":{"p":true},"user":{"id":"u1","name":"n","active":true,"read":true,"write":false,"type":"project"}}"#;

    #[test]
    fn one_pass_equals_two() {
        let (registered, custom) = parse::<MachinableClaims>(PAYLOAD.as_bytes()).unwrap();
        let twice: Registered = serde_json::from_str(PAYLOAD).unwrap();
        let custom_twice: MachinableClaims = serde_json::from_str(PAYLOAD).unwrap();
        assert_eq!(
            (
                registered.sub,
                registered.sid,
                registered.iat,
                registered.exp
            ),
            (twice.sub, twice.sid, twice.iat, twice.exp)
        );
        assert_eq!(registered.token_use, TokenUse::Access);
        assert_eq!(
            serde_json::to_value(&custom).unwrap(),
            serde_json::to_value(&custom_twice).unwrap()
        );
        // A claim type that reads everything sees the registered claims too, as alone.
        let (_, value) = parse::<serde_json::Value>(PAYLOAD.as_bytes()).unwrap();
        assert_eq!(
            value,
            serde_json::from_str::<serde_json::Value>(PAYLOAD).unwrap()
        );
        // The optional claims, in each of their shapes.
        for extra in [
            r#""nbf":5,"iss":"me","aud":"you","gen":3"#,
            r#""nbf":null,"iss":null,"aud":["a","b"],"gen":null"#,
        ] {
            let payload = PAYLOAD.replacen('{', &format!("{{{extra},"), 1);
            let (registered, value) = parse::<serde_json::Value>(payload.as_bytes()).unwrap();
            let alone: serde_json::Value = serde_json::from_str(&payload).unwrap();
            assert_eq!(value, alone, "{payload}");
            let twice: Registered = serde_json::from_str(&payload).unwrap();
            assert_eq!(
                (
                    registered.nbf,
                    registered.iss,
                    registered.aud,
                    registered.generation
                ),
                (twice.nbf, twice.iss, twice.aud, twice.generation)
            );
        }
        // Escaped keys and values.
        let escaped = PAYLOAD.replace(r#""sub":"u1""#, r#""s\u0075b":"u\u0031""#);
        let (registered, _) = parse::<serde_json::Value>(escaped.as_bytes()).unwrap();
        assert_eq!(registered.sub, "u1");
    }

    #[test]
    fn anything_unusual_falls_back() {
        for bad in [
            PAYLOAD.replace(r#""iat":10,"#, r#""iat":10,"iat":11,"#),
            PAYLOAD.replace(r#""iat":10,"#, ""),
            PAYLOAD.replace(r#""exp":20"#, r#""exp":"20""#),
            PAYLOAD.replace(r#""token_use":"access""#, r#""token_use":"other""#),
            format!("{PAYLOAD} x"),
            "[1,2]".to_owned(),
        ] {
            assert!(
                parse::<serde_json::Value>(bad.as_bytes()).is_none(),
                "{bad}"
            );
        }
        // A claim type that does not walk the object leaves the registered claims unread.
        assert!(parse::<serde::de::IgnoredAny>(PAYLOAD.as_bytes()).is_some());
        assert!(parse::<Option<MachinableClaims>>(PAYLOAD.as_bytes()).is_none());
    }
}
