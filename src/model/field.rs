//! A kind field's value as the kind's own templates see it: sizes in
//! bytes, durations in seconds, a secret as `{ secret: VAR }`, a schedule
//! as its cron expression and retention.
//!
//! Invariant: it serialises exactly as the template values always were, so
//! that a template reads `fields.NAME` the same whatever the field's type.

use serde::ser::SerializeMap;
use serde::Serialize;

use super::Schedule;

/// One field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// An optional field of the proxy left unset.
    Null,
    /// A string, an enum member, a service's name.
    Str(String),
    Int(i64),
    /// A size in bytes, or a duration in seconds.
    Unsigned(u64),
    Number(f64),
    /// A boolean, and `true` for a healthcheck.
    Bool(bool),
    List(Vec<FieldValue>),
    /// The environment variable that holds the secret.
    Secret(Option<String>),
    Schedule(Schedule),
}

impl FieldValue {
    /// The value when it is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Str(text) => Some(text),
            _ => None,
        }
    }

    /// The value when it is a whole number that is not negative.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            FieldValue::Int(n) => u64::try_from(*n).ok(),
            FieldValue::Unsigned(n) => Some(*n),
            _ => None,
        }
    }
}

impl Serialize for FieldValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldValue::Null => serializer.serialize_unit(),
            FieldValue::Str(text) => serializer.serialize_str(text),
            // As JSON numbers always did: a whole number that is not negative is unsigned.
            FieldValue::Int(n) => match u64::try_from(*n) {
                Ok(n) => serializer.serialize_u64(n),
                Err(_) => serializer.serialize_i64(*n),
            },
            FieldValue::Unsigned(n) => serializer.serialize_u64(*n),
            FieldValue::Number(n) => serializer.serialize_f64(*n),
            FieldValue::Bool(b) => serializer.serialize_bool(*b),
            FieldValue::List(items) => items.serialize(serializer),
            FieldValue::Secret(var) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("secret", var)?;
                map.end()
            }
            FieldValue::Schedule(schedule) => schedule.serialize(serializer),
        }
    }
}
