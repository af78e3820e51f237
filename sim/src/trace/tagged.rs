//! Enums of other crates written with their name inside: `{"kind":"SlotPresented","slot":4}`.
//!
//! The wire protocol's messages and the controller's audit events derive serde for postcard,
//! which has no room for an internal tag, so serde writes them to JSON externally tagged
//! (`{"SlotPresented":{"slot":4}}`). A trace reads better, and `jq` selects better, with the name
//! beside the fields: [`to_tagged`] turns the first shape into the second and [`from_tagged`]
//! back, for any such enum:
//!
//! | variant        | externally tagged (serde)  | in the trace                          |
//! |----------------|----------------------------|---------------------------------------|
//! | unit           | `"Home"`                   | `{"kind":"Home"}`                     |
//! | struct         | `{"Tamper":{"open":true}}` | `{"kind":"Tamper","open":true}`       |
//! | newtype, map   | `{"KeyEnrolled":{…}}`      | `{"kind":"KeyEnrolled",…}`            |
//! | newtype, other | `{"ContractDeleted":3}`    | `{"kind":"ContractDeleted","value":3}`|
//!
//! A newtype whose map has a field named like the tag keeps it under `value` too, so nothing is
//! ever overwritten.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The field a newtype variant's content goes in when it cannot be merged.
const VALUE: &str = "value";

/// `value` as JSON with its enum variant's name in the field `tag`.
pub fn to_tagged<T: Serialize>(value: &T, tag: &str) -> Result<Value, serde_json::Error> {
    Ok(match serde_json::to_value(value)? {
        Value::String(name) => Value::Object(Map::from_iter([(tag.to_string(), Value::String(name))])),
        Value::Object(outer) if outer.len() == 1 => {
            let Some((name, inner)) = outer.into_iter().next() else { unreachable!("one entry") };
            let mut out = Map::new();
            out.insert(tag.to_string(), Value::String(name));
            match inner {
                Value::Object(fields) if !fields.contains_key(tag) && !fields.contains_key(VALUE) => {
                    out.extend(fields);
                }
                other => {
                    out.insert(VALUE.to_string(), other);
                }
            }
            Value::Object(out)
        }
        other => return Err(serde::ser::Error::custom(format!("not an enum: {other}"))),
    })
}

/// Reads what [`to_tagged`] wrote back into `T`.
pub fn from_tagged<T: DeserializeOwned>(value: Value, tag: &str) -> Result<T, serde_json::Error> {
    use serde::de::Error as _;
    let Value::Object(mut fields) = value else {
        return Err(serde_json::Error::custom(format!("expected an object with a {tag:?} field")));
    };
    let Some(Value::String(name)) = fields.remove(tag) else {
        return Err(serde_json::Error::custom(format!("missing the {tag:?} field naming the variant")));
    };
    let wrap = |inner: Value| Value::Object(Map::from_iter([(name.clone(), inner)]));
    let mut candidates = Vec::with_capacity(2);
    if fields.is_empty() {
        candidates.push(Value::String(name.clone()));
    }
    if fields.len() == 1
        && let Some(inner) = fields.get(VALUE)
    {
        candidates.push(wrap(inner.clone()));
    }
    candidates.push(wrap(Value::Object(fields)));
    let mut last = None;
    for candidate in candidates {
        match serde_json::from_value(candidate) {
            Ok(v) => return Ok(v),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| serde_json::Error::custom("no candidate")))
}

/// `#[serde(with = "kind")]`: a field holding such an enum, tagged `kind`.
pub mod kind {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `value` tagged.
    pub fn serialize<T: Serialize, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        super::to_tagged(value, "kind").map_err(serde::ser::Error::custom)?.serialize(s)
    }

    /// Reads a tagged value.
    pub fn deserialize<'de, T: serde::de::DeserializeOwned, D: Deserializer<'de>>(
        d: D,
    ) -> Result<T, D::Error> {
        super::from_tagged(serde_json::Value::deserialize(d)?, "kind").map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use firmware_proto::host::{BoardToHost, HostToBoard};
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shapes {
        Unit,
        Struct { a: u8 },
        Empty {},
        Number(u32),
        Map(Inner),
        Clash(Clash),
        Pair(u8, u8),
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Inner {
        b: bool,
    }
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Clash {
        kind: u8,
    }

    #[test]
    fn every_variant_shape_round_trips_with_its_name_inside() {
        let cases = [
            (Shapes::Unit, json!({"kind":"Unit"})),
            (Shapes::Struct { a: 4 }, json!({"kind":"Struct","a":4})),
            (Shapes::Empty {}, json!({"kind":"Empty"})),
            (Shapes::Number(7), json!({"kind":"Number","value":7})),
            (Shapes::Map(Inner { b: true }), json!({"kind":"Map","b":true})),
            (Shapes::Clash(Clash { kind: 2 }), json!({"kind":"Clash","value":{"kind":2}})),
            (Shapes::Pair(1, 2), json!({"kind":"Pair","value":[1,2]})),
        ];
        for (value, want) in cases {
            let got = to_tagged(&value, "kind").unwrap();
            assert_eq!(got, want, "{value:?}");
            assert_eq!(from_tagged::<Shapes>(got, "kind").unwrap(), value);
        }
    }

    #[test]
    fn protocol_messages_round_trip() {
        let up = BoardToHost::SlotPresented { slot: 4, occupied: true };
        let v = to_tagged(&up, "kind").unwrap();
        assert_eq!(v["kind"], "SlotPresented");
        assert_eq!(v["slot"], 4);
        assert_eq!(from_tagged::<BoardToHost>(v, "kind").unwrap(), up);
        let down = HostToBoard::Home;
        let v = to_tagged(&down, "kind").unwrap();
        assert_eq!(from_tagged::<HostToBoard>(v, "kind").unwrap(), down);
    }

    #[test]
    fn a_missing_or_unknown_name_is_an_error() {
        assert!(from_tagged::<Shapes>(json!({"a":4}), "kind").is_err());
        assert!(from_tagged::<Shapes>(json!({"kind":"Nope"}), "kind").is_err());
        assert!(from_tagged::<Shapes>(json!(3), "kind").is_err());
        assert!(to_tagged(&3u8, "kind").is_err());
    }
}
