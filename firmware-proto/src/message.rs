//! Messages as payloads: a kind byte, then the postcard body.
//!
//! Each link direction has one enum ([`crate::host::HostToBoard`], [`crate::host::BoardToHost`],
//! [`crate::plant::BoardToPlant`], [`crate::plant::PlantToBoard`]). A payload is the postcard
//! encoding of that enum: its first byte is the variant index (the message *kind*, always
//! below 128 so it is one varint byte), the rest the variant's fields in order.
//!
//! Forward compatibility: a kind this version does not know decodes to
//! [`Decoded::Unknown`] (reported, not fatal), and bytes after the fields this version knows
//! are ignored, so a newer peer may append fields to a message.

use serde::{Serialize, de::DeserializeOwned};

use crate::frame::MAX_PAYLOAD;

/// A message set of one link direction.
pub trait Message: Serialize + DeserializeOwned + core::fmt::Debug {
    /// How many kinds this version knows: kinds `0..KINDS` decode, others are unknown.
    const KINDS: u8;
    /// Every message name of the set, in kind order (what [`Message::name`] can give).
    const NAMES: &'static [&'static str];
    /// The message's kind byte (its variant index).
    fn kind(&self) -> u8;
    /// The message's name, for traces and logs.
    fn name(&self) -> &'static str;
}

/// What a payload decoded to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded<M> {
    /// A message this version knows.
    Known(M),
    /// A kind from a newer peer; the payload was skipped.
    Unknown {
        /// The kind byte.
        kind: u8,
    },
}

/// Why a message could not be encoded or decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The payload is empty.
    #[error("empty payload")]
    Empty,
    /// The body does not match the fields of its kind.
    #[error("malformed body for message kind {kind}")]
    Malformed {
        /// The kind byte.
        kind: u8,
    },
    /// The encoded message exceeds [`MAX_PAYLOAD`].
    #[error("message longer than {MAX_PAYLOAD} bytes")]
    TooLarge,
}

/// A buffer that holds any payload.
pub type PayloadBuf = [u8; MAX_PAYLOAD];

/// Encodes `message` into `out`, returning the payload length.
pub fn encode<M: Message>(message: &M, out: &mut PayloadBuf) -> Result<usize, MessageError> {
    postcard::to_slice(message, out).map(|s| s.len()).map_err(|_| MessageError::TooLarge)
}

/// Encodes `message` into a new vector.
pub fn encode_vec<M: Message>(message: &M) -> Result<alloc::vec::Vec<u8>, MessageError> {
    let mut buf = [0u8; MAX_PAYLOAD];
    let n = encode(message, &mut buf)?;
    Ok(buf[..n].to_vec())
}

/// Decodes a payload.
pub fn decode<M: Message>(payload: &[u8]) -> Result<Decoded<M>, MessageError> {
    let kind = *payload.first().ok_or(MessageError::Empty)?;
    if kind >= M::KINDS {
        return Ok(Decoded::Unknown { kind });
    }
    postcard::from_bytes(payload).map(Decoded::Known).map_err(|_| MessageError::Malformed { kind })
}

/// Implements [`Message`] for an enum from its variants in wire order.
macro_rules! message_set {
    ($ty:ident { $($variant:ident),+ $(,)? }) => {
        impl $crate::message::Message for $ty {
            const KINDS: u8 = [$(stringify!($variant)),+].len() as u8;
            const NAMES: &'static [&'static str] = &[$(stringify!($variant)),+];
            fn kind(&self) -> u8 {
                #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
                enum Kind { $($variant),+ }
                match self { $($ty::$variant { .. } => Kind::$variant as u8),+ }
            }
            fn name(&self) -> &'static str {
                match self { $($ty::$variant { .. } => stringify!($variant)),+ }
            }
        }
    };
}
pub(crate) use message_set;
