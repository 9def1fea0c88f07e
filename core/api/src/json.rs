//! JSON request bodies read by field name only.
//!
//! serde's derived `Deserialize` for a struct also accepts a sequence of its field values in
//! declaration order, and serde_json hands it a JSON array when it finds one: without more,
//! `["Ann", "ann@example.com", "app_key", [...]]` is read as an invite, past the field names and
//! past `deny_unknown_fields`. [`from_slice`] reads JSON through [`ByName`], which asks for an
//! object wherever a struct or a struct variant is expected, at any depth (inside options,
//! sequences, maps, newtypes and enums), and refuses an array there: "invalid type: sequence,
//! expected an object with named fields for struct KeyGrant". Everything else reads as with
//! `serde_json::from_slice`, and an error names the path of the value it concerns
//! (`keys[0].expiry: missing field ...`).
//!
//! serde decodes `#[serde(flatten)]` fields and internally tagged or untagged enums from a
//! buffer of its own that no wrapping deserializer reaches, so a struct inside such a value would
//! still take an array; no request type of this crate uses them.

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Unexpected, VariantAccess,
    Visitor,
};
use std::fmt;

/// A JSON body that could not be read: its syntax, a type, a missing or unknown field, or a
/// positional array where an object is expected.
#[derive(Debug)]
pub struct JsonError {
    path: Option<String>,
    inner: serde_json::Error,
}

impl JsonError {
    /// Where in the document the error is (`keys[0].expiry`), when it concerns a value below the
    /// top level.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// serde_json's error, with its line and column.
    pub fn inner(&self) -> &serde_json::Error {
        &self.inner
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{path}: {}", self.inner),
            None => write!(f, "{}", self.inner),
        }
    }
}

impl std::error::Error for JsonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.inner)
    }
}

/// Reads one JSON document as `T`, structs by field name only (see the module docs); nothing but
/// whitespace may follow the document.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(ByName(&mut de)).map_err(|e| {
        let path = e.path().to_string();
        JsonError { path: (path != "." && !path.is_empty()).then_some(path), inner: e.into_inner() }
    })?;
    de.end().map_err(|inner| JsonError { path: None, inner })?;
    Ok(value)
}

/// Wraps a deserializer so that a struct is read from a map only, and wraps whatever it hands
/// on (the elements of a sequence, the keys and values of a map, the content of an option, a
/// newtype or an enum variant) so that the rule holds at every depth.
pub struct ByName<D>(pub D);

/// Wraps a visitor: what it is handed to read from is wrapped in turn; one for a struct refuses
/// a sequence.
struct Visit<V> {
    inner: V,
    structure: bool,
}

impl<V> Visit<V> {
    fn any(inner: V) -> Self {
        Visit { inner, structure: false }
    }

    fn structure(inner: V) -> Self {
        Visit { inner, structure: true }
    }
}

/// Wraps a seed, so that the deserializer it is given is wrapped.
struct Seed<S>(S);

struct Seq<A>(A);
struct Map<A>(A);
struct Enum<A>(A);
struct Variant<A>(A);

macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(Visit::any(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ByName<D> {
    type Error = D::Error;

    forward! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string deserialize_bytes
        deserialize_byte_buf deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Visit::any(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Visit::any(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Visit::any(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Visit::any(visitor))
    }

    /// The heart of it: a struct is asked for as a map, and its visitor refuses a sequence
    /// should the format offer one anyway.
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(Visit::structure(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Visit::any(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! visit {
    ($($method:ident: $ty:ty)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Visit<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.structure {
            f.write_str("an object with named fields for ")?;
        }
        self.inner.expecting(f)
    }

    visit! {
        visit_bool: bool visit_i8: i8 visit_i16: i16 visit_i32: i32 visit_i64: i64 visit_i128: i128
        visit_u8: u8 visit_u16: u16 visit_u32: u32 visit_u64: u64 visit_u128: u128
        visit_f32: f32 visit_f64: f64 visit_char: char visit_str: &str visit_borrowed_str: &'de str
        visit_string: String visit_bytes: &[u8] visit_borrowed_bytes: &'de [u8] visit_byte_buf: Vec<u8>
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(ByName(deserializer))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(ByName(deserializer))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if self.structure {
            return Err(de::Error::invalid_type(Unexpected::Seq, &self));
        }
        self.inner.visit_seq(Seq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(Map(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(Enum(data))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(ByName(deserializer))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<A> {
    type Error = A::Error;
    type Variant = Variant<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(Seed(seed))?;
        Ok((value, Variant(variant)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Visit::any(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Visit::structure(visitor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        a: u32,
        #[serde(default)]
        b: Option<String>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Shape {
        Unit,
        Newtype(Inner),
        Tuple(u8, u8),
        Struct { x: u8, y: u8 },
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        inner: Inner,
        #[serde(default)]
        maybe: Option<Inner>,
        #[serde(default)]
        list: Vec<Inner>,
        #[serde(default)]
        map: BTreeMap<String, Inner>,
        #[serde(default)]
        boxed: Option<Box<Inner>>,
        #[serde(default)]
        shapes: Vec<Shape>,
        #[serde(default)]
        pair: Option<(u8, Inner)>,
        #[serde(default)]
        wrapped: Option<Wrapped>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Wrapped(Inner);

    fn refused<T: DeserializeOwned + fmt::Debug>(json: &str) -> String {
        let plain = serde_json::from_str::<T>(json);
        assert!(plain.is_ok(), "the test case must be one serde_json alone accepts: {json} → {plain:?}");
        match from_slice::<T>(json.as_bytes()) {
            Ok(v) => panic!("accepted {json} as {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn objects_read_as_before() {
        let json = r#"{"name":"n","inner":{"a":1},"maybe":{"a":2,"b":"x"},"list":[{"a":3}],"map":{"k":{"a":4}},
            "boxed":{"a":5},"shapes":["unit",{"newtype":{"a":6}},{"tuple":[1,2]},{"struct":{"x":1,"y":2}}],
            "pair":[7,{"a":8}],"wrapped":{"a":9}}"#;
        let ours: Outer = from_slice(json.as_bytes()).unwrap();
        let theirs: Outer = serde_json::from_str(json).unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(ours.shapes[3], Shape::Struct { x: 1, y: 2 });
        assert_eq!(from_slice::<Vec<u8>>(b" [1, 2] ").unwrap(), vec![1, 2]);
        assert_eq!(from_slice::<(u8, String)>(br#"[1,"x"]"#).unwrap(), (1, "x".to_string()));
    }

    #[test]
    fn a_positional_array_for_a_struct_is_refused_at_every_depth() {
        let top = refused::<Outer>(r#"["n",{"a":1}]"#);
        assert!(top.contains("invalid type: sequence, expected an object with named fields for struct Outer"), "{top}");
        let nested = refused::<Outer>(r#"{"name":"n","inner":[1]}"#);
        assert!(nested.starts_with("inner: invalid type: sequence"), "{nested}");
        for (json, path) in [
            (r#"{"name":"n","inner":{"a":1},"maybe":[2]}"#, "maybe"),
            (r#"{"name":"n","inner":{"a":1},"list":[{"a":1},[3]]}"#, "list[1]"),
            (r#"{"name":"n","inner":{"a":1},"map":{"k":[4]}}"#, "map.k"),
            (r#"{"name":"n","inner":{"a":1},"boxed":[5]}"#, "boxed"),
            (r#"{"name":"n","inner":{"a":1},"shapes":[{"newtype":[6]}]}"#, "shapes[0]"),
            (r#"{"name":"n","inner":{"a":1},"shapes":[{"struct":[1,2]}]}"#, "shapes[0]"),
            (r#"{"name":"n","inner":{"a":1},"pair":[7,[8]]}"#, "pair[1]"),
            (r#"{"name":"n","inner":{"a":1},"wrapped":[9]}"#, "wrapped"),
        ] {
            let e = refused::<Outer>(json);
            assert!(e.starts_with(path) && e.contains("expected an object with named fields"), "{json}: {e}");
        }
    }

    #[test]
    fn errors_name_the_field_and_trailing_input_is_refused() {
        let e = from_slice::<Outer>(br#"{"name":"n","inner":{"a":1,"c":2}}"#).unwrap_err();
        assert_eq!(e.path(), Some("inner.c"));
        assert!(e.to_string().contains("unknown field `c`"), "{e}");
        let e = from_slice::<Outer>(br#"{"name":"n","inner":{}}"#).unwrap_err();
        assert!(e.to_string().starts_with("inner: missing field `a`"), "{e}");
        let e = from_slice::<Inner>(br#"{"a":1} {"a":2}"#).unwrap_err();
        assert!(e.to_string().contains("trailing characters"), "{e}");
        assert!(from_slice::<Inner>(b"{").is_err());
        assert!(from_slice::<Inner>(b"").is_err());
    }
}
