//! OpenAPI schemas of the wire types (feature `openapi`), for the document Mission Control
//! serves at `/openapi.json`.
//!
//! The wire types derive `utoipa::ToSchema` (and their query types `utoipa::IntoParams`) when
//! the feature is on. Their fields of `keyway_protocol` types (ids, times, validity windows,
//! door operations, activity events) cannot derive it here (that crate knows nothing of
//! OpenAPI), so each such field names its schema among the types below with
//! `schema(value_type = ...)`: one place says how each of those types looks in JSON.

use crate::wire::Expiry;
use std::borrow::Cow;
use utoipa::openapi::{RefOr, schema::Schema};
use utoipa::{PartialSchema, ToSchema};

/// A schema written as the JSON it is in the document.
pub fn schema_from_json(value: serde_json::Value) -> RefOr<Schema> {
    serde_json::from_value(value).expect("a valid OpenAPI schema")
}

macro_rules! json_schema {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $json:tt) => {
        $(#[$doc])*
        pub struct $ty;
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                schema_from_json(serde_json::json!($json))
            }
        }
        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

json_schema!(
    /// `keyway_api::B64<T>`: a signed object, key or secret.
    Base64, "Base64", {
    "type": "string", "contentEncoding": "base64",
    "description": "Base64 (standard alphabet, padded) of the value's canonical bytes: a signed object \
                    (certificate, batch, receipt, time statement), a key or a secret."
});
json_schema!(
    /// `keyway_protocol::UnixTime`.
    Time, "UnixTime", {
    "type": "integer", "format": "int64", "minimum": 0,
    "description": "Seconds since 1970-01-01T00:00:00Z (UTC)."
});
json_schema!(
    /// `keyway_protocol::credential::DoorId`.
    DoorId, "DoorId", {
    "type": "integer", "format": "int32", "minimum": 0, "maximum": 4294967295u64,
    "description": "A door of the property."
});
json_schema!(
    /// `keyway_protocol::credential::KeyId`.
    KeyId, "KeyId", {
    "type": "integer", "format": "int64", "minimum": 0,
    "description": "A key (an authority-issued key, or a guest key chosen by the phone that shared it). \
                    Up to 2^64-1: JavaScript clients must read it without rounding (above 2^53)."
});
json_schema!(
    /// `keyway_protocol::credential::PersonId`.
    PersonId, "PersonId", {
    "type": "integer", "format": "int64", "minimum": 0,
    "description": "A person of the property (up to 2^64-1)."
});
json_schema!(
    /// `keyway_protocol::credential::DeviceId`.
    DeviceId, "DeviceId", {
    "type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 255},
    "minItems": 8, "maxItems": 8,
    "description": "First 8 bytes of SHA-256 over the device's public key, as 8 numbers."
});
json_schema!(
    /// `keyway_protocol::credential::KeyFlags`.
    KeyFlags, "KeyFlags", {
    "type": "integer", "minimum": 0, "maximum": 255,
    "description": "Flag bits of an authority-issued key (resident, may share)."
});
json_schema!(
    /// `keyway_protocol::credential::Validity`.
    Validity, "Validity", {
    "type": "object", "required": ["start", "expiry"],
    "properties": {
        "start": {"$ref": "#/components/schemas/UnixTime"},
        "expiry": {"$ref": "#/components/schemas/UnixTime"}
    },
    "description": "Valid for start <= t < expiry (seconds since 1970)."
});
json_schema!(
    /// `keyway_protocol::credential::DoorOp`.
    DoorOp, "DoorOp", {
    "type": "object", "minProperties": 1, "maxProperties": 1,
    "description": "One change to a door's state: an object with one member named after the operation \
                    (e.g. RevokeKey, RevokePerson, RevokeDevice, AddDoorcode, AddKeycard, SetClock, \
                    TrustAuthority, RetireAuthority) \
                    whose value holds its fields."
});
json_schema!(
    /// `keyway_protocol::credential::ActivityEvent`.
    ActivityEvent, "ActivityEvent", {
    "type": "object", "minProperties": 1, "maxProperties": 1,
    "description": "What happened at a door: an object with one member named after the event \
                    (e.g. AppUnlock, AppDenied, DoorcodeEntry, SecureKeycardEntry, UpdateRejected, \
                    ClockSet) whose value holds its fields."
});

impl PartialSchema for Expiry {
    fn schema() -> RefOr<Schema> {
        schema_from_json(serde_json::json!({
            "oneOf": [
                {"$ref": "#/components/schemas/UnixTime"},
                {"type": "string", "const": Expiry::NEVER}
            ],
            "description": "When a grant ends: seconds since 1970, or \"never\" (stored and signed as 9999-12-31T23:59:59Z).",
        }))
    }
}

impl ToSchema for Expiry {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Time::name().into(), Time::schema()));
    }
}

/// Every schema above that the wire types refer to by name: a document that names one of them
/// must hold them all (`#/components/schemas/...`).
pub fn protocol_schemas() -> Vec<(String, RefOr<Schema>)> {
    fn one<T: ToSchema>() -> (String, RefOr<Schema>) {
        (T::name().into_owned(), T::schema())
    }
    vec![
        one::<Base64>(),
        one::<Time>(),
        one::<DoorId>(),
        one::<KeyId>(),
        one::<PersonId>(),
        one::<DeviceId>(),
        one::<KeyFlags>(),
        one::<Validity>(),
        one::<DoorOp>(),
        one::<ActivityEvent>(),
    ]
}
