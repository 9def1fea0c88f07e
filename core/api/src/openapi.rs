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
    /// `keyway_protocol::UnixTime` (JSON form: `crate::format::time`).
    Time, "Time", {
    "type": "string", "format": "date-time",
    "examples": ["2027-01-01T00:00:00Z"],
    "description": "An RFC 3339 time, answered in UTC with whole seconds (2027-01-01T00:00:00Z). Requests may \
                    use any offset (fractions of a second are dropped) or, as before, seconds since \
                    1970-01-01T00:00:00Z as a JSON number."
});
json_schema!(
    /// `keyway_protocol::credential::DoorId`.
    DoorId, "DoorId", {
    "type": "integer", "format": "int32", "minimum": 0, "maximum": 4294967295u64,
    "description": "A door of the property."
});
json_schema!(
    /// `keyway_protocol::credential::KeyId` (JSON form: `crate::format::id`).
    KeyId, "KeyId", {
    "type": "string", "pattern": "^[0-9]{1,20}$", "examples": ["42", "9223372036854775809"],
    "description": "A key (an authority-issued key, or a guest key chosen by the phone that shared it), \
                    up to 2^64-1, as a decimal string: guest key ids lie above 2^53, which a JSON number \
                    loses in JavaScript. Requests may send a JSON number too."
});
json_schema!(
    /// `keyway_protocol::credential::PersonId` (JSON form: `crate::format::id`).
    PersonId, "PersonId", {
    "type": "string", "pattern": "^[0-9]{1,20}$", "examples": ["7"],
    "description": "A person of the property (up to 2^64-1), as a decimal string; requests may send a \
                    JSON number too."
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
        "start": {"$ref": "#/components/schemas/Time"},
        "expiry": {"$ref": "#/components/schemas/Time"}
    },
    "description": "Valid for start <= t < expiry."
});
json_schema!(
    /// `keyway_protocol::credential::DoorOp`.
    DoorOp, "DoorOp", {
    "type": "object", "minProperties": 1, "maxProperties": 1,
    "examples": [{"revoke_key": {"key": "42", "until": "2027-01-01T00:00:00Z"}}],
    "description": "One change to a door's state: an object with one member named after the operation \
                    in snake_case (e.g. revoke_key, revoke_person, revoke_device, add_doorcode, add_keycard, \
                    set_clock, trust_authority, retire_authority) whose value holds its fields: times \
                    (until, now, before) in RFC 3339, key and person ids as decimal strings, validity as \
                    {start, expiry}. The PascalCase names of earlier versions (RevokeKey) are still read."
});
json_schema!(
    /// `keyway_protocol::credential::ActivityEvent`.
    ActivityEvent, "ActivityEvent", {
    "type": "object", "minProperties": 1, "maxProperties": 1,
    "examples": [{"app_unlock": {"key": "9223372036854775809", "person": "7", "guest": true}}],
    "description": "What happened at a door: an object with one member named after the event in \
                    snake_case (e.g. app_unlock, app_denied, doorcode_entry, secure_keycard_entry, \
                    update_rejected, clock_set, denied_repeatedly, records_dropped) whose value holds its \
                    fields: key and person ids as decimal strings, times (before, after, first) in RFC 3339, \
                    reasons and channels in snake_case (revoked_key, app)."
});

impl PartialSchema for Expiry {
    fn schema() -> RefOr<Schema> {
        schema_from_json(serde_json::json!({
            "oneOf": [
                {"$ref": "#/components/schemas/Time"},
                {"type": "string", "const": Expiry::NEVER}
            ],
            "description": "When a grant ends: a time (RFC 3339; seconds since 1970 are read too), or \"never\" (stored and signed as 9999-12-31T23:59:59Z).",
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
