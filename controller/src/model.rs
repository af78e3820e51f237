//! The domain's objects, named as key automat vendors name them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::*;
use crate::schedule::AccessSchedule;
use firmware_proto::types::TagId;

/// Where a key lives when nobody holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Storage {
    /// A slot of an automat's carousel.
    Slot {
        /// Which automat.
        automat: AutomatId,
        /// Which slot.
        slot: Slot,
    },
    /// Kept at a desk, outside any automat.
    Manual,
}

/// Where a key is now: each key is in exactly one of these places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyLocation {
    /// In its storage (a slot or the desk).
    Stored(Storage),
    /// Taken out under a contract and not yet returned.
    Held {
        /// The contract it was taken under.
        contract: ContractId,
        /// When.
        #[serde(with = "crate::serde_ts::us")]
        since: Timestamp,
    },
}

/// A four-digit code that returns one key without a contract PIN (`*` then the code).
///
/// A secret, like a PIN: in a human-readable format (JSON: traces, reports) it is written as
/// `"redacted"` and read back as [`ReturnCode::REDACTED`]; only the journal (postcard) keeps it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReturnCode(pub [u8; 4]);

impl ReturnCode {
    /// What a code read from a human-readable format is: digits no keypad types, so it never
    /// matches a code typed.
    pub const REDACTED: ReturnCode = ReturnCode([u8::MAX; 4]);
}

/// The text a secret is written as in a human-readable format.
pub const REDACTED: &str = "redacted";

/// Serde for a secret: its bytes in binary formats (the journal), [`REDACTED`] in text ones.
macro_rules! secret_serde {
    ($ty:ident, $n:literal, $redacted:expr) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(REDACTED)
                } else {
                    s.serialize_newtype_struct(stringify!($ty), &self.0)
                }
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    if text != REDACTED {
                        return Err(serde::de::Error::custom(format!(
                            "a {} is only ever written as {REDACTED:?}",
                            stringify!($ty)
                        )));
                    }
                    Ok($redacted)
                } else {
                    #[derive(Deserialize)]
                    struct Bytes([u8; $n]);
                    Bytes::deserialize(d).map(|b| $ty(b.0))
                }
            }
        }
    };
}

impl core::fmt::Debug for ReturnCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ReturnCode(****)")
    }
}

impl ReturnCode {
    /// Parses four decimal digits.
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Some(ReturnCode([b[0] - b'0', b[1] - b'0', b[2] - b'0', b[3] - b'0']))
    }
}

/// What the "after" image of a key's slot should look like, taken at enrolment.
pub use crate::verify::Signature as ReferenceImage;

/// A key the automat manages.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Key {
    /// Its id.
    pub id: KeyId,
    /// What people call it ("Van 3", "Flat 12 B").
    pub name: String,
    /// The RFID tag on its fob, if it has one.
    pub tag: Option<TagId>,
    /// Shared keys allow overlapping contracts; not-shared keys refuse them.
    pub shared: bool,
    /// A code that returns it without a PIN, accepted only while its slot is empty.
    pub return_code: Option<ReturnCode>,
    /// Where it lives.
    pub storage: Storage,
    /// Its slot as photographed at enrolment.
    pub reference: Option<ReferenceImage>,
    /// A local time it must be back by every day it is out (e.g. 17:00), in the controller's
    /// time zone.
    pub daily_deadline: Option<jiff::civil::Time>,
}

/// A person contracts are given to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Its id.
    pub id: ContactId,
    /// Display name.
    pub name: String,
}

/// A place on the map, degrees.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
}

impl Location {
    /// Great-circle distance in metres (haversine, mean Earth radius).
    pub fn distance_m(&self, other: &Location) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * 6_371_000.0 * a.sqrt().asin()
    }
}

/// One carousel cabinet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Automat {
    /// Its id.
    pub id: AutomatId,
    /// Display name.
    pub name: String,
    /// Slots on its carousel.
    pub slots: u8,
    /// Where it stands.
    pub location: Location,
}

/// What a contract lets its contacts do with its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Purpose {
    /// Take the keys and return them within the range.
    FetchAndReturn,
    /// Take the keys within the range (the first half of a split reservation).
    Fetch,
    /// Return the keys within the range (the second half).
    Return,
}

/// A contract: who may take which keys from which automat, when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyContract {
    /// Its id.
    pub id: ContractId,
    /// The automat whose keypad accepts its PIN.
    pub automat: AutomatId,
    /// The keys (one or more).
    pub keys: Vec<KeyId>,
    /// The people it is for (one or more).
    pub contacts: Vec<ContactId>,
    /// From when.
    #[serde(with = "crate::serde_ts::us")]
    pub start: Timestamp,
    /// Until when; `None` is permanent.
    #[serde(with = "crate::serde_ts::us_opt")]
    pub end: Option<Timestamp>,
    /// What it allows.
    pub purpose: Purpose,
    /// Weekly local-time windows on top of the range.
    pub schedule: Option<AccessSchedule>,
    /// Keyed digest of the PIN; the PIN itself is never stored.
    pub pin: PinDigest,
    /// Revoked contracts authorise nothing.
    pub revoked: bool,
    /// The reservation it was made from.
    pub reservation: Option<u32>,
    /// Until when its keys stay booked, when later than `end`: a split reservation's fetch
    /// contract ends early for access, but its key stays booked until the return contract
    /// starts, so no other contract fits in between.
    pub booked_until: Option<Timestamp>,
}

impl KeyContract {
    /// Whether the contract's range covers `t` (ignoring schedule and revocation).
    pub fn covers(&self, t: Timestamp) -> bool {
        self.start <= t && self.end.is_none_or(|e| t < e)
    }

    /// Whether the contract is live at `t`: not revoked and not ended.
    pub fn live_at(&self, t: Timestamp) -> bool {
        !self.revoked && self.end.is_none_or(|e| t < e)
    }

    /// The end of the range its keys are booked for (`None`: permanent).
    pub fn booked_end(&self) -> Option<Timestamp> {
        self.end.map(|e| self.booked_until.map_or(e, |b| b.max(e)))
    }

    /// Whether the booked range of this contract overlaps `start..end`.
    pub fn overlaps(&self, start: Timestamp, end: Option<Timestamp>) -> bool {
        let a_before_b_ends = end.is_none_or(|e| self.start < e);
        let b_before_a_ends = self.booked_end().is_none_or(|e| start < e);
        a_before_b_ends && b_before_a_ends
    }
}

/// A locker (slot) lent to contacts for a time range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockerContract {
    /// Its id.
    pub id: LockerContractId,
    /// Which automat.
    pub automat: AutomatId,
    /// Which slot.
    pub slot: Slot,
    /// Who.
    pub contacts: Vec<ContactId>,
    /// From when.
    #[serde(with = "crate::serde_ts::us")]
    pub start: Timestamp,
    /// Until when; `None` is permanent.
    #[serde(with = "crate::serde_ts::us_opt")]
    pub end: Option<Timestamp>,
    /// The key contract that made it, if any.
    pub key_contract: Option<ContractId>,
}

/// Automats and the keys that serve a set of entities (apartments, cars, offices).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceGroup {
    /// Its id.
    pub id: DeviceGroupId,
    /// The automats of the group.
    pub automats: Vec<AutomatId>,
    /// Entity name → the keys that open it.
    pub entities: Vec<(String, Vec<KeyId>)>,
}

/// A keyed digest of a PIN at an automat: HMAC-SHA256(controller secret, automat ‖ PIN),
/// first 16 bytes. Authorisation and uniqueness work on digests only.
///
/// Keyed, but the key is derived from the seed in simulations: in a human-readable format (JSON:
/// traces, reports) it is written as `"redacted"` and read back as [`PinDigest::REDACTED`]; only
/// the journal (postcard) keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PinDigest(pub [u8; 16]);

impl PinDigest {
    /// What a digest read from a human-readable format is.
    pub const REDACTED: PinDigest = PinDigest([0; 16]);
}

secret_serde!(PinDigest, 16, PinDigest::REDACTED);
secret_serde!(ReturnCode, 4, ReturnCode::REDACTED);

/// A PIN as typed: 4 to 8 digits. Never serialized, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl core::fmt::Debug for Pin {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Pin(******)")
    }
}

impl Pin {
    /// Shortest PIN accepted.
    pub const MIN_LEN: usize = 4;
    /// Longest PIN accepted.
    pub const MAX_LEN: usize = 8;
    /// Length of generated PINs.
    pub const GENERATED_LEN: usize = 6;

    /// A PIN from its digits, if it has 4 to 8 of them and nothing else.
    pub fn parse(s: &str) -> Option<Self> {
        (Self::MIN_LEN..=Self::MAX_LEN).contains(&s.len()).then_some(())?;
        s.bytes().all(|b| b.is_ascii_digit()).then(|| Pin(s.to_owned()))
    }

    /// The digits. Handle with care: this is the secret.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    #[test]
    fn secrets_keep_their_bytes_in_the_journal_and_are_redacted_in_text() {
        let digest = PinDigest([7; 16]);
        let code = ReturnCode([1, 2, 3, 4]);
        // postcard: the bytes as the derived impl wrote them (journals stay readable).
        assert_eq!(postcard::to_stdvec(&digest).unwrap(), vec![7; 16]);
        assert_eq!(postcard::to_stdvec(&code).unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(postcard::from_bytes::<PinDigest>(&[7; 16]).unwrap(), digest);
        assert_eq!(postcard::from_bytes::<ReturnCode>(&[1, 2, 3, 4]).unwrap(), code);
        // JSON: never the bytes; read back as the placeholder, anything else refused.
        assert_eq!(serde_json::to_string(&digest).unwrap(), "\"redacted\"");
        assert_eq!(serde_json::to_string(&Some(code)).unwrap(), "\"redacted\"");
        assert_eq!(serde_json::from_str::<PinDigest>("\"redacted\"").unwrap(), PinDigest::REDACTED);
        assert_eq!(serde_json::from_str::<ReturnCode>("\"redacted\"").unwrap(), ReturnCode::REDACTED);
        assert!(serde_json::from_str::<PinDigest>("[7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7]").is_err());
        assert!(ReturnCode::parse("9999").is_some_and(|c| c != ReturnCode::REDACTED));
    }
}
