//! How protocol values look in the JSON of the HTTP API, as `#[serde(with = "...")]` modules on
//! the wire types' fields. The protocol types keep their own serde (postcard inside signed
//! bodies); only the JSON changes.
//!
//! - Times ([`time`], [`time_opt`]): RFC 3339 in UTC out (`"2027-01-01T00:00:00Z"`); in, an
//!   RFC 3339 string (any offset) or seconds since 1970 as a JSON number.
//! - 64-bit ids ([`id`], [`id_opt`], [`id_vec`]: key, person, device ids): decimal strings out
//!   (`"9223372036854775809"`, exact in JavaScript); in, the string or a JSON number.
//! - [`validity`]: `{"start": <time>, "expiry": <time>}`.
//! - [`door_ops`], [`activity_event`]: door operations and activity events as objects with
//!   one snake_case member (`{"revoke_key": {...}}`, `{"app_unlock": {...}}`) whose times and
//!   ids are written as above and whose reasons, channels and card kinds are snake_case too
//!   (`"revoked_key"`); the Rust-tagged PascalCase names (`{"RevokeKey": ...}`) and
//!   numbers are still read.

use keyway_protocol::UnixTime;
use keyway_protocol::credential::{ActivityEvent, DoorOp, KeyId, PersonId, Validity};
use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

// ---- times --------------------------------------------------------------------------------

/// A time as it is written in JSON: RFC 3339 in UTC, or seconds since 1970 (as a number) for
/// a time beyond what RFC 3339 can write (after 9999-12-31T23:59:59Z).
pub fn time_text(t: UnixTime) -> serde_json::Value {
    match crate::clock::to_datetime(t) {
        Some(dt) if t.0 <= crate::NO_EXPIRY.0 => dt.format("%Y-%m-%dT%H:%M:%SZ").to_string().into(),
        _ => t.0.into(),
    }
}

/// Reads an RFC 3339 time (fractions of a second are dropped; before 1970 is refused).
pub fn parse_time(text: &str) -> Result<UnixTime, String> {
    let dt = chrono::DateTime::parse_from_rfc3339(text.trim())
        .map_err(|e| format!("{text:?} is not an RFC 3339 time such as 2027-01-01T00:00:00Z ({e})"))?;
    u64::try_from(dt.timestamp()).map(UnixTime).map_err(|_| format!("{text:?} is before 1970"))
}

/// A [`UnixTime`] with the JSON form of this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rfc3339(pub UnixTime);

impl Serialize for Rfc3339 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match time_text(self.0) {
            serde_json::Value::String(s) => serializer.serialize_str(&s),
            _ => serializer.serialize_u64(self.0.0),
        }
    }
}

pub(crate) struct TimeVisitor;

impl Visitor<'_> for TimeVisitor {
    type Value = UnixTime;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a time: RFC 3339 (2027-01-01T00:00:00Z) or seconds since 1970")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<UnixTime, E> {
        Ok(UnixTime(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<UnixTime, E> {
        u64::try_from(v).map(UnixTime).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<UnixTime, E> {
        parse_time(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Rfc3339 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimeVisitor).map(Rfc3339)
    }
}

/// `#[serde(with = "crate::format::time")]` on a [`UnixTime`].
pub mod time {
    use super::*;
    pub fn serialize<S: Serializer>(t: &UnixTime, serializer: S) -> Result<S::Ok, S::Error> {
        Rfc3339(*t).serialize(serializer)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<UnixTime, D::Error> {
        Rfc3339::deserialize(deserializer).map(|t| t.0)
    }
}

/// `#[serde(default, with = "crate::format::time_opt")]` on an `Option<UnixTime>`.
pub mod time_opt {
    use super::*;
    pub fn serialize<S: Serializer>(t: &Option<UnixTime>, serializer: S) -> Result<S::Ok, S::Error> {
        t.map(Rfc3339).serialize(serializer)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<UnixTime>, D::Error> {
        Option::<Rfc3339>::deserialize(deserializer).map(|t| t.map(|t| t.0))
    }
}

// ---- ids ----------------------------------------------------------------------------------

/// A 64-bit id that JSON carries as a decimal string.
pub trait U64Id: Copy {
    fn to_u64(self) -> u64;
    fn from_u64(v: u64) -> Self;
}

impl U64Id for u64 {
    fn to_u64(self) -> u64 {
        self
    }
    fn from_u64(v: u64) -> Self {
        v
    }
}

impl U64Id for KeyId {
    fn to_u64(self) -> u64 {
        self.0
    }
    fn from_u64(v: u64) -> Self {
        KeyId(v)
    }
}

impl U64Id for PersonId {
    fn to_u64(self) -> u64 {
        self.0
    }
    fn from_u64(v: u64) -> Self {
        PersonId(v)
    }
}

/// An id with the JSON form of this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdText<T>(pub T);

impl<T: U64Id> Serialize for IdText<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_u64().to_string())
    }
}

struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id: a decimal string (\"42\") or a number")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::invalid_value(Unexpected::Str(v), &self));
        }
        v.parse().map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
    }
}

impl<'de, T: U64Id> Deserialize<'de> for IdText<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IdVisitor).map(|v| IdText(T::from_u64(v)))
    }
}

/// `#[serde(with = "crate::format::id")]` on a [`KeyId`], [`PersonId`] or `u64` id.
pub mod id {
    use super::*;
    pub fn serialize<T: U64Id, S: Serializer>(v: &T, serializer: S) -> Result<S::Ok, S::Error> {
        IdText(*v).serialize(serializer)
    }
    pub fn deserialize<'de, T: U64Id, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
        IdText::<T>::deserialize(deserializer).map(|v| v.0)
    }
}

/// `#[serde(default, with = "crate::format::id_opt")]` on an optional id.
pub mod id_opt {
    use super::*;
    pub fn serialize<T: U64Id, S: Serializer>(v: &Option<T>, serializer: S) -> Result<S::Ok, S::Error> {
        v.map(IdText).serialize(serializer)
    }
    pub fn deserialize<'de, T: U64Id, D: Deserializer<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
        Option::<IdText<T>>::deserialize(deserializer).map(|v| v.map(|v| v.0))
    }
}

/// `#[serde(with = "crate::format::id_vec")]` on a list of ids.
pub mod id_vec {
    use super::*;
    pub fn serialize<T: U64Id, S: Serializer>(v: &[T], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(v.iter().map(|v| IdText(*v)))
    }
    pub fn deserialize<'de, T: U64Id, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<T>, D::Error> {
        Vec::<IdText<T>>::deserialize(deserializer).map(|v| v.into_iter().map(|v| v.0).collect())
    }
}

// ---- validity windows ---------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct ValidityJson {
    #[serde(with = "time")]
    start: UnixTime,
    #[serde(with = "time")]
    expiry: UnixTime,
}

/// `#[serde(with = "crate::format::validity")]` on a [`Validity`].
pub mod validity {
    use super::*;
    pub fn serialize<S: Serializer>(v: &Validity, serializer: S) -> Result<S::Ok, S::Error> {
        ValidityJson { start: v.start, expiry: v.expiry }.serialize(serializer)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Validity, D::Error> {
        ValidityJson::deserialize(deserializer).map(|v| Validity { start: v.start, expiry: v.expiry })
    }
}

// ---- door operations and activity events ----------------------------------------------------

/// Fields of [`DoorOp`] and [`ActivityEvent`] variants that hold a time.
const TIME_FIELDS: [&str; 5] = ["until", "now", "before", "after", "first"];
/// Fields that hold a 64-bit id (`key` of `TrustAuthority`/`RetireAuthority` is a public key,
/// not a number, and is left alone).
const ID_FIELDS: [&str; 2] = ["key", "person"];
/// Fields that hold a unit variant of a protocol enum (`DenialReason`, `EntryChannel`,
/// `CardKind`): snake_case like the variant names.
const NAME_FIELDS: [&str; 3] = ["reason", "channel", "kind"];

fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn pascal_case(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The protocol's JSON of one operation or event (`{"RevokeKey": {"key": 5, ...}}`, or a bare
/// `"Name"` for a variant without fields) in the API's form, or back (`to_api == false`).
fn convert(value: serde_json::Value, to_api: bool) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    let rename = |name: &str| if to_api { snake_case(name) } else { pascal_case(name) };
    let (name, mut fields) = match value {
        Value::String(name) => return Ok(Value::String(rename(&name))),
        Value::Object(map) if map.len() == 1 => map.into_iter().next().expect("one member"),
        other => return Err(format!("expected an object with one member naming the variant, found {other}")),
    };
    if let Value::Object(map) = &mut fields {
        for (field, v) in map.iter_mut() {
            if TIME_FIELDS.contains(&field.as_str()) {
                *v = time_field(std::mem::take(v), to_api).map_err(|e| format!("{field}: {e}"))?;
            } else if ID_FIELDS.contains(&field.as_str()) {
                *v = id_field(std::mem::take(v), to_api).map_err(|e| format!("{field}: {e}"))?;
            } else if NAME_FIELDS.contains(&field.as_str())
                && let Value::String(name) = v
            {
                *name = rename(name);
            } else if field == "validity"
                && let Value::Object(window) = v
            {
                for (f, t) in window.iter_mut() {
                    *t = time_field(std::mem::take(t), to_api).map_err(|e| format!("validity.{f}: {e}"))?;
                }
            }
        }
    }
    Ok(Value::Object([(rename(&name), fields)].into_iter().collect()))
}

fn time_field(v: serde_json::Value, to_api: bool) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    match (v, to_api) {
        (Value::Number(n), true) => Ok(n.as_u64().map(|t| time_text(UnixTime(t))).unwrap_or(Value::Number(n))),
        (Value::String(s), false) => parse_time(&s).map(|t| t.0.into()),
        (v, _) => Ok(v),
    }
}

fn id_field(v: serde_json::Value, to_api: bool) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    match (v, to_api) {
        (Value::Number(n), true) => Ok(n.as_u64().map(|id| Value::String(id.to_string())).unwrap_or(Value::Number(n))),
        (Value::String(s), false) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse::<u64>().map(Value::from).map_err(|_| format!("{s:?} is not a 64-bit id"))
        }
        (v, _) => Ok(v),
    }
}

fn ser_api<T: Serialize, S: Serializer>(v: &T, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::Error;
    let json = serde_json::to_value(v).map_err(S::Error::custom)?;
    convert(json, true).map_err(S::Error::custom)?.serialize(serializer)
}

fn de_api<'de, T: serde::de::DeserializeOwned, D: Deserializer<'de>>(deserializer: D) -> Result<T, D::Error> {
    use serde::de::Error;
    let json = convert(serde_json::Value::deserialize(deserializer)?, false).map_err(D::Error::custom)?;
    serde_json::from_value(json).map_err(D::Error::custom)
}

/// A [`DoorOp`] with the JSON form of this module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoorOpJson(pub DoorOp);

impl Serialize for DoorOpJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ser_api(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for DoorOpJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        de_api(deserializer).map(DoorOpJson)
    }
}

/// `#[serde(with = "crate::format::door_ops")]` on a `Vec<DoorOp>`.
pub mod door_ops {
    use super::*;
    pub fn serialize<S: Serializer>(ops: &[DoorOp], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(ops.iter().map(|op| DoorOpJson(op.clone())))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<DoorOp>, D::Error> {
        Vec::<DoorOpJson>::deserialize(deserializer).map(|ops| ops.into_iter().map(|op| op.0).collect())
    }
}

/// `#[serde(with = "crate::format::activity_event")]` on an [`ActivityEvent`].
pub mod activity_event {
    use super::*;
    pub fn serialize<S: Serializer>(event: &ActivityEvent, serializer: S) -> Result<S::Ok, S::Error> {
        ser_api(event, serializer)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ActivityEvent, D::Error> {
        de_api(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_protocol::credential::DenialReason;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Row {
        #[serde(with = "time")]
        at: UnixTime,
        #[serde(default, with = "time_opt")]
        until: Option<UnixTime>,
        #[serde(with = "id")]
        key_id: KeyId,
        #[serde(default, with = "id_opt")]
        person_id: Option<PersonId>,
        #[serde(with = "id_vec")]
        keys: Vec<KeyId>,
        #[serde(with = "validity")]
        validity: Validity,
    }

    #[test]
    fn times_are_rfc3339_out_and_either_in_and_ids_are_strings() {
        let row = Row {
            at: UnixTime(1_798_761_600),
            until: None,
            key_id: KeyId((1 << 63) | 1),
            person_id: Some(PersonId(7)),
            keys: vec![KeyId(3)],
            validity: Validity { start: UnixTime(0), expiry: crate::NO_EXPIRY },
        };
        let json = serde_json::to_string(&row).unwrap();
        assert_eq!(
            json,
            r#"{"at":"2027-01-01T00:00:00Z","until":null,"key_id":"9223372036854775809","person_id":"7","keys":["3"],"validity":{"start":"1970-01-01T00:00:00Z","expiry":"9999-12-31T23:59:59Z"}}"#
        );
        assert_eq!(serde_json::from_str::<Row>(&json).unwrap(), row);
        let old = r#"{"at":1798761600,"key_id":9223372036854775809,"person_id":7,"keys":[3],"validity":{"start":0,"expiry":253402300799}}"#;
        assert_eq!(serde_json::from_str::<Row>(old).unwrap(), row);
        let offset = r#"{"at":"2027-01-01T01:00:00.5+01:00","key_id":"9223372036854775809","person_id":"7","keys":["3"],"validity":{"start":0,"expiry":"9999-12-31T23:59:59Z"}}"#;
        assert_eq!(serde_json::from_str::<Row>(offset).unwrap(), row);
        for bad in [
            r#"{"at":"2027-01-01","key_id":"1","keys":[],"validity":{"start":0,"expiry":1}}"#,
            r#"{"at":"1969-12-31T23:59:59Z","key_id":"1","keys":[],"validity":{"start":0,"expiry":1}}"#,
            r#"{"at":-1,"key_id":"1","keys":[],"validity":{"start":0,"expiry":1}}"#,
            r#"{"at":0,"key_id":"-1","keys":[],"validity":{"start":0,"expiry":1}}"#,
            r#"{"at":0,"key_id":"0x10","keys":[],"validity":{"start":0,"expiry":1}}"#,
            r#"{"at":0,"key_id":"18446744073709551616","keys":[],"validity":{"start":0,"expiry":1}}"#,
        ] {
            assert!(serde_json::from_str::<Row>(bad).is_err(), "{bad}");
        }
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "door_ops")]
        ops: Vec<DoorOp>,
        #[serde(with = "activity_event")]
        event: ActivityEvent,
    }

    #[test]
    fn door_ops_and_events_are_snake_case_with_string_ids_and_rfc3339_times() {
        let h = Holder {
            ops: vec![
                DoorOp::RevokeKey { key: KeyId((1 << 63) | 2), until: UnixTime(1_798_761_600) },
                DoorOp::SetUtcOffset { minutes: -300 },
            ],
            event: ActivityEvent::AppDenied {
                key: Some(KeyId(5)),
                person: Some(PersonId(9)),
                reason: DenialReason::RevokedKey,
            },
        };
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "ops": [
                    {"revoke_key": {"key": "9223372036854775810", "until": "2027-01-01T00:00:00Z"}},
                    {"set_utc_offset": {"minutes": -300}}
                ],
                "event": {"app_denied": {"key": "5", "person": "9", "reason": "revoked_key"}}
            })
        );
        assert_eq!(serde_json::from_value::<Holder>(json).unwrap(), h);
        // The Rust-tagged form of before still reads.
        let old = serde_json::json!({
            "ops": [{"RevokeKey": {"key": 9223372036854775810u64, "until": 1798761600}}, {"SetUtcOffset": {"minutes": -300}}],
            "event": {"AppDenied": {"key": 5, "person": 9, "reason": "RevokedKey"}}
        });
        assert_eq!(serde_json::from_value::<Holder>(old).unwrap(), h);
        let refused = serde_json::json!({"ops": [{"revoke_key": {"key": "5", "until": "tomorrow"}}], "event": "x"});
        assert!(serde_json::from_value::<Holder>(refused).is_err());
    }
}
