//! The audit trail: every event as an append-only, hash-chained record.
//!
//! `hash = SHA-256(prev_hash ‖ seq u64 LE ‖ at µs i64 LE ‖ postcard(event))`. Each record holds
//! the hash of the one before (zeros for the first), so altering, dropping or reordering any
//! record breaks every hash after it; [`verify_chain`] finds the first break.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::Event;

/// One audit record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the trail, from 0.
    pub seq: u64,
    /// When it happened.
    #[serde(with = "crate::serde_ts::us")]
    pub at: Timestamp,
    /// What happened.
    pub event: Event,
    /// The hash of the previous record.
    pub prev: [u8; 32],
    /// This record's hash.
    pub hash: [u8; 32],
}

/// Why a trail does not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A record's seq is not one more than the previous one's.
    #[error("record {index}: seq {found}, expected {expected}")]
    Seq {
        /// Position in the trail.
        index: usize,
        /// The seq it has.
        found: u64,
        /// The seq it should have.
        expected: u64,
    },
    /// A record's `prev` is not the previous record's hash.
    #[error("record {0}: not linked to the record before")]
    Link(u64),
    /// A record's hash does not match its content.
    #[error("record {0}: content does not match its hash")]
    Hash(u64),
}

/// The hash of a record's content.
pub fn hash(prev: &[u8; 32], seq: u64, at: Timestamp, event: &Event) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(seq.to_le_bytes());
    h.update(at.as_microsecond().to_le_bytes());
    // Events always serialize: they hold no maps with non-string keys or unsupported types.
    let body = postcard::to_stdvec(event).unwrap_or_default();
    h.update(&body);
    h.finalize().into()
}

/// The head of a trail: where the next record goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chain {
    /// The next seq.
    pub next_seq: u64,
    /// The last record's hash.
    pub last_hash: [u8; 32],
}

impl Chain {
    /// Makes the next record.
    pub fn append(&mut self, at: Timestamp, event: Event) -> Record {
        let seq = self.next_seq;
        let prev = self.last_hash;
        let hash = hash(&prev, seq, at, &event);
        self.next_seq += 1;
        self.last_hash = hash;
        Record { seq, at, event, prev, hash }
    }

    /// Follows a record read back from the journal.
    pub fn follow(&mut self, record: &Record) {
        self.next_seq = record.seq + 1;
        self.last_hash = record.hash;
    }
}

/// Checks a whole trail from its first record.
pub fn verify_chain<'a>(records: impl IntoIterator<Item = &'a Record>) -> Result<(), ChainError> {
    let mut prev = [0u8; 32];
    for (index, r) in records.into_iter().enumerate() {
        let expected = index as u64;
        if r.seq != expected {
            return Err(ChainError::Seq { index, found: r.seq, expected });
        }
        if r.prev != prev {
            return Err(ChainError::Link(r.seq));
        }
        if hash(&r.prev, r.seq, r.at, &r.event) != r.hash {
            return Err(ChainError::Hash(r.seq));
        }
        prev = r.hash;
    }
    Ok(())
}
