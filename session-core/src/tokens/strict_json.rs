//! Strict JSON for JOSE headers and JWT claims.
//!
//! RFC 7515 §4 and RFC 7519 §7.2 require the header and the claims set to be
//! JSON objects, and a JWT with duplicate member names to be rejected (or
//! parsed "last wins", which hides the first value from whoever logs or
//! checks it). serde's derive accepts a JSON array with the fields in order
//! as a struct, and `serde_json::Value` or maps silently keep the last of
//! duplicated members. [`from_slice`] closes both, during the one parse that
//! builds the value: it wraps serde_json's deserializer so that
//!
//! - the top level is asked for with `deserialize_map` whatever the target
//!   type asks for, so anything but an object is an error;
//! - every object at any depth records its member names as they are read
//!   (borrowed from the input where no escapes need decoding) and fails on
//!   the first name seen twice.
//!
//! Everything else (types, `deny_unknown_fields`, trailing characters,
//! serde_json's recursion limit) is serde_json's and the target type's as
//! usual.

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

/// Parses `bytes` as a JSON object without duplicate member names (at any
/// depth) into `T`, in one pass.
pub(crate) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(TopLevel(&mut de))?;
    de.end()?;
    Ok(value)
}

/// The top-level deserializer: every request becomes `deserialize_map`.
struct TopLevel<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for TopLevel<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(Wrap(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Forwards each `deserialize_*` of a wrapper to the inner deserializer's
/// method of the same name, with the visitor wrapped by `$wrap`.
macro_rules! forward_wrapped {
    ($wrap:expr; $($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(
                self,
                $($arg: $ty,)*
                visitor: V,
            ) -> Result<V::Value, Self::Error> {
                let wrap = $wrap;
                let (de, visitor) = wrap(self, visitor);
                de.$method($($arg,)* visitor)
            }
        )*
    };
}

/// Lists every `deserialize_*` method for [`forward_wrapped`].
macro_rules! all_methods {
    ($wrap:expr) => {
        forward_wrapped! {
            $wrap;
            deserialize_any();
            deserialize_bool();
            deserialize_i8();
            deserialize_i16();
            deserialize_i32();
            deserialize_i64();
            deserialize_i128();
            deserialize_u8();
            deserialize_u16();
            deserialize_u32();
            deserialize_u64();
            deserialize_u128();
            deserialize_f32();
            deserialize_f64();
            deserialize_char();
            deserialize_str();
            deserialize_string();
            deserialize_bytes();
            deserialize_byte_buf();
            deserialize_option();
            deserialize_unit();
            deserialize_unit_struct(name: &'static str);
            deserialize_newtype_struct(name: &'static str);
            deserialize_seq();
            deserialize_tuple(len: usize);
            deserialize_tuple_struct(name: &'static str, len: usize);
            deserialize_map();
            deserialize_struct(name: &'static str, fields: &'static [&'static str]);
            deserialize_enum(name: &'static str, variants: &'static [&'static str]);
            deserialize_identifier();
            deserialize_ignored_any();
        }
    };
}

/// A deserializer below the top level: same requests, wrapped visitor.
struct Strict<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }

    all_methods!(|s: Self, v| (s.0, Wrap(v)));
}

/// A visitor whose nested deserializers, sequences and maps are strict.
struct Wrap<V>(V);

/// Calls `$mac` with every `visit_*` method of a non-string scalar.
macro_rules! scalar_visits {
    ($mac:ident) => {
        $mac! {
            visit_bool(bool);
            visit_i8(i8);
            visit_i16(i16);
            visit_i32(i32);
            visit_i64(i64);
            visit_i128(i128);
            visit_u8(u8);
            visit_u16(u16);
            visit_u32(u32);
            visit_u64(u64);
            visit_u128(u128);
            visit_f32(f32);
            visit_f64(f64);
            visit_char(char);
        }
    };
}

/// Forwards scalar `visit_*` methods unchanged.
macro_rules! forward_visits {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                self.0.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    scalar_visits!(forward_visits);

    forward_visits! {
        visit_str(&str);
        visit_borrowed_str(&'de str);
        visit_string(String);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_some(Strict(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_newtype_struct(Strict(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.visit_seq(Seq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(Map {
            inner: map,
            names: Vec::new(),
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.0.visit_enum(Enum(data))
    }
}

/// A seed whose deserializer is strict.
struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Strict(d))
    }
}

/// A sequence whose elements are strict.
struct Seq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// An object: records member names and refuses the first repeated one.
///
/// The check is a linear scan: sessionward's headers and claims have a
/// handful of members, and the input is bounded by `MAX_JWT_LEN`.
struct Map<'de, A> {
    inner: A,
    names: Vec<Cow<'de, str>>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(KeySeed {
            seed,
            names: &mut self.names,
        })
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// The seed of one member name.
struct KeySeed<'a, 'de, S> {
    seed: S,
    names: &'a mut Vec<Cow<'de, str>>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, 'de, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(KeyDe {
            de: d,
            names: self.names,
        })
    }
}

/// The deserializer of one member name: whatever the key type asks for,
/// the name it is read from is recorded first.
struct KeyDe<'a, 'de, D> {
    de: D,
    names: &'a mut Vec<Cow<'de, str>>,
}

impl<'a, 'de, D: Deserializer<'de>> Deserializer<'de> for KeyDe<'a, 'de, D> {
    type Error = D::Error;

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }

    all_methods!(|s: Self, v| (
        s.de,
        KeyVisitor {
            inner: v,
            names: s.names
        }
    ));
}

/// Records a member name, failing if it was already seen in this object.
fn record<'de, E: de::Error>(names: &mut Vec<Cow<'de, str>>, name: Cow<'de, str>) -> Result<(), E> {
    if names.contains(&name) {
        return Err(E::custom("duplicate member name"));
    }
    names.push(name);
    Ok(())
}

/// The visitor of one member name (see [`KeyDe`]).
struct KeyVisitor<'a, 'de, V> {
    inner: V,
    names: &'a mut Vec<Cow<'de, str>>,
}

/// Records a name given as a number (a map with integer keys) in decimal.
macro_rules! record_numbers {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
                record(self.names, Cow::Owned(v.to_string()))?;
                self.inner.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for KeyVisitor<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        record(self.names, Cow::Borrowed(v))?;
        self.inner.visit_borrowed_str(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        record(self.names, Cow::Owned(v.to_owned()))?;
        self.inner.visit_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        record(self.names, Cow::Owned(v.clone()))?;
        self.inner.visit_string(v)
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        record(self.names, String::from_utf8_lossy(v))?;
        self.inner.visit_borrowed_bytes(v)
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        record(
            self.names,
            Cow::Owned(String::from_utf8_lossy(v).into_owned()),
        )?;
        self.inner.visit_bytes(v)
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Self::Value, E> {
        record(
            self.names,
            Cow::Owned(String::from_utf8_lossy(&v).into_owned()),
        )?;
        self.inner.visit_byte_buf(v)
    }

    scalar_visits!(record_numbers);

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(KeyDe {
            de: d,
            names: self.names,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(KeyDe {
            de: d,
            names: self.names,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_seq(Seq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(Map {
            inner: map,
            names: Vec::new(),
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(Enum(data))
    }
}

/// An enum whose variant contents are strict.
struct Enum<A>(A);

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<A> {
    type Error = A::Error;
    type Variant = Variant<A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(seed)?;
        Ok((value, Variant(variant)))
    }
}

/// The contents of one enum variant.
struct Variant<A>(A);

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Wrap(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Wrap(visitor))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::Deserialize;
    use serde_json::{Value, json};

    use super::from_slice;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Claims {
        sub: String,
        exp: i64,
        #[serde(default)]
        sid: Option<String>,
        #[serde(default)]
        extra: Option<Inner>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: u8,
        #[serde(default)]
        kind: Option<Kind>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Plain,
        Rich { x: u8, y: u8 },
    }

    fn ok<T: serde::de::DeserializeOwned>(text: &str) -> T {
        match from_slice(text.as_bytes()) {
            Ok(v) => v,
            Err(e) => panic!("refused {text}: {e}"),
        }
    }

    fn refused<T: serde::de::DeserializeOwned + std::fmt::Debug>(text: &str) {
        let got: Result<T, _> = from_slice(text.as_bytes());
        assert!(got.is_err(), "accepted {text}: {got:?}");
    }

    #[test]
    fn objects_parse_as_usual() {
        let c: Claims = ok(r#"{"sub":"u","exp":5,"sid":"s","extra":{"a":1,"kind":"plain"}}"#);
        assert_eq!(c.sub, "u");
        assert_eq!(c.sid.as_deref(), Some("s"));
        assert_eq!(c.extra.unwrap().kind, Some(Kind::Plain));
        let c: Claims = ok(r#" {"exp":5,"sub":"\u0075","sid":null} "#);
        assert_eq!((c.sub.as_str(), c.exp, c.sid), ("u", 5, None));
        let c: Claims = ok(r#"{"sub":"u","exp":5,"extra":{"a":1,"kind":{"rich":{"x":1,"y":2}}}}"#);
        assert_eq!(c.extra.unwrap().kind, Some(Kind::Rich { x: 1, y: 2 }));
        let v: Value = ok(r#"{"a":[1,{"b":2},[{"b":3}]],"c":{"d":{"e":null}}}"#);
        assert_eq!(v, json!({"a":[1,{"b":2},[{"b":3}]],"c":{"d":{"e":null}}}));
        let m: HashMap<u64, bool> = ok(r#"{"1":true,"2":false}"#);
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn the_top_level_must_be_an_object() {
        // serde's derive would take this array as the struct, in field order.
        let as_array = r#"["u",5,"s",null]"#;
        assert!(serde_json::from_str::<Claims>(as_array).is_ok());
        refused::<Claims>(as_array);
        refused::<Claims>(r#"["u",5]"#);
        refused::<Claims>(r#"[{"sub":"u","exp":5}]"#);
        for text in ["[]", "null", "1", "\"{}\"", "true", ""] {
            refused::<Value>(text);
            refused::<Claims>(text);
        }
        refused::<Value>(r#"{"a":1} {"a":1}"#);
        refused::<Value>(r#"{"a":1}x"#);
        // Nested arrays stay arrays.
        let v: Value = ok(r#"{"a":[[1],[2]]}"#);
        assert_eq!(v["a"][1][0], 2);
    }

    #[test]
    fn duplicate_members_are_refused_at_any_depth() {
        for text in [
            r#"{"sub":"u","exp":5,"sub":"u"}"#,
            r#"{"sub":"u","exp":5,"exp":5}"#,
            r#"{"sub":"u","exp":5,"\u0073ub":"v"}"#,
            r#"{"sub":"u","exp":5,"extra":{"a":1,"a":2}}"#,
            r#"{"sub":"u","exp":5,"extra":{"a":1,"kind":{"rich":{"x":1,"x":1,"y":2}}}}"#,
        ] {
            refused::<Claims>(text);
            refused::<Value>(text);
        }
        // serde_json::Value alone keeps the last duplicate.
        let last_wins: Value = serde_json::from_str(r#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(last_wins["a"], 2);
        for text in [
            r#"{"a":1,"a":2}"#,
            r#"{"a":1,"b":{"c":[{"d":1,"d":1}]}}"#,
            r#"{"a":{"b":1},"c":{"b":1,"b":1}}"#,
        ] {
            refused::<Value>(text);
            refused::<BTreeMap<String, Value>>(text);
        }
        refused::<HashMap<u64, bool>>(r#"{"1":true,"1":false}"#);
        // The same name in different objects is fine.
        let v: Value = ok(r#"{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}"#);
        assert_eq!(v["b"][1]["a"], 2);
    }

    #[test]
    fn unknown_fields_and_types_are_still_refused() {
        refused::<Claims>(r#"{"sub":"u","exp":5,"admin":true}"#);
        refused::<Claims>(r#"{"sub":"u","exp":"5"}"#);
        refused::<Claims>(r#"{"sub":"u","exp":1.5}"#);
        refused::<Claims>(r#"{"sub":"u"}"#);
        refused::<Claims>(r#"{"sub":"u","exp":5,"extra":{"a":1,"z":0}}"#);
    }

    #[test]
    fn deep_nesting_hits_the_recursion_limit_not_the_stack() {
        let deep = format!(r#"{{"a":{}1{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
        refused::<Value>(&deep);
        let deep = format!(r#"{}1{}"#, r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
        refused::<Value>(&deep);
    }
}
