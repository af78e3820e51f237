//! The streaming frame decoder: bytes in with any chunking, frames out.
//!
//! It holds one fixed [`MAX_WIRE`]-byte buffer and nothing else, so memory never grows; it
//! never panics; a bad frame is counted in [`DecoderStats`] and dropped, and decoding goes
//! on from the next `0x00` delimiter, which is how it resynchronises after garbage.
//!
//! ```
//! use firmware_proto::{decoder::Decoder, frame};
//! # let bytes: &[u8] = &[];
//! let mut decoder = Decoder::new();
//! let mut input = bytes;
//! while let Some(result) = decoder.feed(&mut input) {
//!     match result {
//!         Ok(frame) => { /* frame.header, frame.payload */ }
//!         Err(error) => { /* counted in decoder.stats(); go on */ }
//!     }
//! }
//! ```

use crate::frame::{self, Frame, FrameError, MAX_WIRE};

/// Counters of what the decoder saw since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Frames that passed every check.
    pub frames: u64,
    /// Frames dropped for invalid COBS.
    pub cobs: u64,
    /// Frames dropped for being shorter than a header and CRC.
    pub too_short: u64,
    /// Frames dropped for running past [`MAX_WIRE`] bytes without a delimiter.
    pub too_long: u64,
    /// Frames dropped for a CRC mismatch.
    pub crc: u64,
    /// Frames dropped for another protocol version.
    pub version: u64,
    /// Frames dropped for an unknown channel byte.
    pub channel: u64,
    /// Bytes that belonged to dropped frames.
    pub bytes_dropped: u64,
}

impl DecoderStats {
    /// Frames dropped for any reason.
    pub fn dropped(&self) -> u64 {
        self.cobs + self.too_short + self.too_long + self.crc + self.version + self.channel
    }

    /// Frames dropped because their bytes were damaged (COBS, length or CRC).
    pub fn corrupt(&self) -> u64 {
        self.cobs + self.too_short + self.too_long + self.crc
    }
}

/// Accumulates bytes until a `0x00` delimiter, then checks and yields the frame.
#[derive(Clone, Debug)]
pub struct Decoder {
    buf: [u8; MAX_WIRE],
    len: usize,
    /// Bytes seen since the last delimiter, including those not kept after an overflow.
    pending: usize,
    overflow: bool,
    stats: DecoderStats,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// An empty decoder.
    pub const fn new() -> Self {
        Decoder {
            buf: [0; MAX_WIRE],
            len: 0,
            pending: 0,
            overflow: false,
            stats: DecoderStats {
                frames: 0,
                cobs: 0,
                too_short: 0,
                too_long: 0,
                crc: 0,
                version: 0,
                channel: 0,
                bytes_dropped: 0,
            },
        }
    }

    /// What the decoder has counted so far.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// Bytes held for a frame whose delimiter has not arrived yet.
    pub fn buffered(&self) -> usize {
        self.len
    }

    /// Consumes `input` up to and including the next complete frame and returns it, checked;
    /// `None` once `input` is used up without completing a frame (the partial frame is kept for
    /// the next call). Empty frames (two delimiters in a row) are skipped silently.
    pub fn feed(&mut self, input: &mut &[u8]) -> Option<Result<Frame<'_>, FrameError>> {
        loop {
            let (chunk, delimited) = match input.iter().position(|&b| b == 0) {
                Some(at) => (&input[..at], Some(at)),
                None => (&input[..], None),
            };
            self.absorb(chunk);
            match delimited {
                None => {
                    *input = &[];
                    return None;
                }
                Some(at) => *input = &input[at + 1..],
            }
            if self.pending == 0 {
                continue;
            }
            return Some(self.finish());
        }
    }

    fn absorb(&mut self, chunk: &[u8]) {
        self.pending += chunk.len();
        if self.overflow {
            return;
        }
        // A wire frame is at most MAX_WIRE bytes including its delimiter.
        let room = MAX_WIRE - 1 - self.len;
        if chunk.len() > room {
            self.overflow = true;
            return;
        }
        self.buf[self.len..self.len + chunk.len()].copy_from_slice(chunk);
        self.len += chunk.len();
    }

    fn finish(&mut self) -> Result<Frame<'_>, FrameError> {
        let (len, pending, overflow) = (self.len, self.pending, self.overflow);
        self.len = 0;
        self.pending = 0;
        self.overflow = false;
        let result = if overflow {
            Err(FrameError::TooLong)
        } else {
            match cobs::decode_in_place(&mut self.buf[..len]) {
                Ok(n) => frame::parse(&self.buf[..n]),
                Err(_) => Err(FrameError::Cobs),
            }
        };
        let stats = &mut self.stats;
        match &result {
            Ok(_) => stats.frames += 1,
            Err(e) => {
                stats.bytes_dropped += pending as u64 + 1;
                match e {
                    FrameError::Cobs => stats.cobs += 1,
                    FrameError::TooShort(_) => stats.too_short += 1,
                    FrameError::TooLong | FrameError::PayloadTooLarge(_) => stats.too_long += 1,
                    FrameError::Crc => stats.crc += 1,
                    FrameError::Version(_) => stats.version += 1,
                    FrameError::Channel(_) => stats.channel += 1,
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Channel, Flags, Header, encode};

    fn wire(payload: &[u8], seq: u16) -> alloc::vec::Vec<u8> {
        let h = Header {
            channel: Channel::Host,
            flags: Flags::DATA,
            stream: 1,
            seq,
            base: 0,
            ack_stream: 0,
            ack: 0,
        };
        let mut out = [0u8; MAX_WIRE];
        let n = encode(&h, payload, &mut out).expect("encodes");
        out[..n].to_vec()
    }

    fn seqs(decoder: &mut Decoder, mut input: &[u8]) -> alloc::vec::Vec<u16> {
        let mut got = alloc::vec::Vec::new();
        while let Some(r) = decoder.feed(&mut input) {
            if let Ok(f) = r {
                got.push(f.header.seq);
            }
        }
        got
    }

    #[test]
    fn one_byte_at_a_time() {
        let bytes = [wire(b"\x01abc", 1), wire(b"", 2), wire(&[0u8; 238], 3)].concat();
        let mut d = Decoder::new();
        let mut got = alloc::vec::Vec::new();
        for b in &bytes {
            got.extend(seqs(&mut d, core::slice::from_ref(b)));
        }
        assert_eq!(got, [1, 2, 3]);
        assert_eq!(d.stats().frames, 3);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn resynchronises_after_a_run_without_delimiter() {
        let mut bytes = alloc::vec![0x55u8; 1000];
        bytes.extend(wire(b"\x01x", 9));
        let mut d = Decoder::new();
        // The 1000 garbage bytes and the next frame share a delimiter: both are lost.
        assert_eq!(seqs(&mut d, &bytes), [] as [u16; 0]);
        assert_eq!(d.stats().too_long, 1);
        bytes.extend(wire(b"\x01y", 10));
        let mut d = Decoder::new();
        assert_eq!(seqs(&mut d, &bytes), [10]);
        assert_eq!(d.stats().bytes_dropped, 1000 + wire(b"\x01x", 9).len() as u64);
    }

    #[test]
    fn corrupt_frame_is_counted_and_the_next_survives() {
        let mut a = wire(b"\x01abc", 1);
        a[3] = if a[3] == 0x55 { 0x56 } else { 0x55 }; // damaged, but no new delimiter
        let bytes = [a, wire(b"\x01def", 2)].concat();
        let mut d = Decoder::new();
        assert_eq!(seqs(&mut d, &bytes), [2]);
        assert_eq!(d.stats().corrupt(), 1);
    }
}
