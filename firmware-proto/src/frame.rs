//! One frame on the wire: header, payload and CRC-32C, COBS-encoded and ended by `0x00`.
//!
//! ```text
//! raw frame (before COBS):
//!  0       1       2       3       4..6    6..8    8       9..11   11..11+n  11+n..15+n
//! +-------+-------+-------+-------+-------+-------+-------+-------+---------+----------+
//! |version|channel| flags |stream |  seq  | base  |ackstrm|  ack  | payload | CRC-32C  |
//! |  u8   |  u8   |  u8   |  u8   |u16 LE |u16 LE |  u8   |u16 LE | n bytes | u32 LE   |
//! +-------+-------+-------+-------+-------+-------+-------+-------+---------+----------+
//! on the wire: COBS(raw frame) 0x00
//! ```
//!
//! [`Header`] is the parsed representation, [`Frame`] a header with a borrowed payload,
//! [`encode`] writes one frame, [`parse`] checks and splits a COBS-decoded one.
//! The streaming side lives in [`crate::decoder`].

/// The protocol version this crate speaks; a frame with another version byte is dropped.
pub const PROTOCOL_VERSION: u8 = 1;
/// Bytes in the fixed header.
pub const HEADER_LEN: usize = 11;
/// Bytes in the trailing CRC.
pub const CRC_LEN: usize = 4;
/// Largest payload (message kind byte + postcard body) a frame may carry.
pub const MAX_PAYLOAD: usize = 238;
/// Largest raw frame: header + payload + CRC.
pub const MAX_FRAME: usize = HEADER_LEN + MAX_PAYLOAD + CRC_LEN;
/// Largest frame on the wire: COBS adds one byte, plus one per full 254-byte run, then the
/// delimiter. 255 bytes: a receiver needs no more buffer than this.
pub const MAX_WIRE: usize = MAX_FRAME + MAX_FRAME / 254 + 1 + 1;

const _: () = assert!(MAX_WIRE == 255);

/// CRC-32C (Castagnoli, reflected, init and xorout `0xFFFF_FFFF`), as iSCSI and SSE4.2 use it.
/// Slice-by-16 tables (16 KiB): four times the speed of the byte-wise table; a board may use
/// any implementation, the result is the same.
pub const CRC32C: crc::Crc<u32, crc::Table<16>> = crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);

/// Which link a frame belongs to; one serial line may carry both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// Controller ⇄ board.
    Host,
    /// Board ⇄ plant (motors, sensors, clock).
    Plant,
}

impl Channel {
    /// The channel's byte on the wire.
    #[inline]
    pub const fn to_byte(self) -> u8 {
        match self {
            Channel::Host => 0,
            Channel::Plant => 1,
        }
    }

    /// The channel for a byte, `None` for a byte no channel uses.
    #[inline]
    pub const fn from_byte(b: u8) -> Option<Self> {
        match b {
            0 => Some(Channel::Host),
            1 => Some(Channel::Plant),
            _ => None,
        }
    }
}

/// Header flag bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u8);

impl Flags {
    /// The frame carries a message; `seq` is its sequence number in the sender's `stream`.
    pub const DATA: Flags = Flags(0b0000_0001);
    /// `ack_stream` and `ack` are valid: every frame of `ack_stream` before `ack` was received.
    pub const ACK: Flags = Flags(0b0000_0010);
    /// Bits this version defines; receivers ignore the others, senders send them as zero.
    pub const KNOWN: Flags = Flags(0b0000_0011);

    /// No flag set.
    pub const fn empty() -> Self {
        Flags(0)
    }
    /// The raw bits.
    #[inline]
    pub const fn bits(self) -> u8 {
        self.0
    }
    /// Flags from raw bits, unknown bits kept.
    #[inline]
    pub const fn from_bits(bits: u8) -> Self {
        Flags(bits)
    }
    /// Whether every bit of `other` is set.
    #[inline]
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    /// Sets every bit of `other`.
    #[inline]
    pub fn insert(&mut self, other: Flags) {
        self.0 |= other.0;
    }
}

impl core::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// The parsed fixed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// Which link.
    pub channel: Channel,
    /// What the frame carries.
    pub flags: Flags,
    /// The sender's transmit stream id, new at every boot; a stream starts at `seq` 0.
    pub stream: u8,
    /// Sequence number of the message (with [`Flags::DATA`]); the next one to be sent otherwise.
    pub seq: u16,
    /// The sender's oldest unacknowledged seq when the frame was sent: a receiver that has not
    /// seen this stream yet starts expecting here.
    pub base: u16,
    /// The receiver-side stream being acknowledged (with [`Flags::ACK`]).
    pub ack_stream: u8,
    /// Cumulative acknowledgement: the next sequence number expected in `ack_stream`.
    pub ack: u16,
}

/// A checked frame: header plus the payload bytes it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The header.
    pub header: Header,
    /// Message kind byte followed by the postcard body; empty for a control frame.
    pub payload: &'a [u8],
}

/// Why a frame was dropped. Every variant is counted by the decoder; none is fatal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The bytes between two delimiters are not valid COBS.
    #[error("invalid COBS encoding")]
    Cobs,
    /// Shorter than a header and a CRC.
    #[error("frame too short ({0} bytes)")]
    TooShort(usize),
    /// More bytes arrived without a delimiter than any valid frame has.
    #[error("frame longer than {MAX_WIRE} bytes")]
    TooLong,
    /// The CRC does not match the header and payload.
    #[error("CRC mismatch")]
    Crc,
    /// The version byte is not [`PROTOCOL_VERSION`].
    #[error("unsupported protocol version {0}")]
    Version(u8),
    /// The channel byte names no channel.
    #[error("unknown channel {0}")]
    Channel(u8),
    /// A payload larger than [`MAX_PAYLOAD`] was given to [`encode`].
    #[error("payload of {0} bytes exceeds {MAX_PAYLOAD}")]
    PayloadTooLarge(usize),
}

/// A buffer that holds any frame on the wire.
pub type WireBuf = [u8; MAX_WIRE];

/// Writes one frame, COBS-encoded and ended by `0x00`, into `out`; returns its length.
pub fn encode(header: &Header, payload: &[u8], out: &mut WireBuf) -> Result<usize, FrameError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(FrameError::PayloadTooLarge(payload.len()));
    }
    let mut raw = [0u8; MAX_FRAME];
    let body = HEADER_LEN + payload.len();
    write_header(header, &mut raw[..HEADER_LEN]);
    raw[HEADER_LEN..body].copy_from_slice(payload);
    let crc = CRC32C.checksum(&raw[..body]);
    raw[body..body + CRC_LEN].copy_from_slice(&crc.to_le_bytes());
    let n = cobs::encode(&raw[..body + CRC_LEN], &mut out[..MAX_WIRE - 1]);
    out[n] = 0;
    Ok(n + 1)
}

fn write_header(h: &Header, out: &mut [u8]) {
    out[0] = PROTOCOL_VERSION;
    out[1] = h.channel.to_byte();
    out[2] = h.flags.bits();
    out[3] = h.stream;
    out[4..6].copy_from_slice(&h.seq.to_le_bytes());
    out[6..8].copy_from_slice(&h.base.to_le_bytes());
    out[8] = h.ack_stream;
    out[9..11].copy_from_slice(&h.ack.to_le_bytes());
}

/// Checks a COBS-decoded raw frame (without delimiter) and splits it into header and payload.
pub fn parse(raw: &[u8]) -> Result<Frame<'_>, FrameError> {
    if raw.len() < HEADER_LEN + CRC_LEN {
        return Err(FrameError::TooShort(raw.len()));
    }
    if raw.len() > MAX_FRAME {
        return Err(FrameError::TooLong);
    }
    let (body, crc) = raw.split_at(raw.len() - CRC_LEN);
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if CRC32C.checksum(body) != want {
        return Err(FrameError::Crc);
    }
    if body[0] != PROTOCOL_VERSION {
        return Err(FrameError::Version(body[0]));
    }
    let channel = Channel::from_byte(body[1]).ok_or(FrameError::Channel(body[1]))?;
    let header = Header {
        channel,
        flags: Flags::from_bits(body[2]),
        stream: body[3],
        seq: u16::from_le_bytes([body[4], body[5]]),
        base: u16::from_le_bytes([body[6], body[7]]),
        ack_stream: body[8],
        ack: u16::from_le_bytes([body[9], body[10]]),
    };
    Ok(Frame { header, payload: &body[HEADER_LEN..] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            channel: Channel::Plant,
            flags: Flags::DATA | Flags::ACK,
            stream: 7,
            seq: 0x1234,
            base: 0x1230,
            ack_stream: 9,
            ack: 0xBEEF,
        }
    }

    #[test]
    fn largest_payload_fits_the_wire_buffer() {
        let payload = [0xA5u8; MAX_PAYLOAD];
        let mut out = [0u8; MAX_WIRE];
        let n = encode(&header(), &payload, &mut out).expect("max payload encodes");
        assert!(n <= MAX_WIRE);
        assert_eq!(out[n - 1], 0);
        assert!(!out[..n - 1].contains(&0));
        let mut raw = out;
        let len = cobs::decode_in_place(&mut raw[..n - 1]).expect("valid cobs");
        let frame = parse(&raw[..len]).expect("valid frame");
        assert_eq!(frame.header, header());
        assert_eq!(frame.payload, &payload[..]);
    }

    #[test]
    fn payload_over_the_limit_is_refused() {
        let payload = [0u8; MAX_PAYLOAD + 1];
        let mut out = [0u8; MAX_WIRE];
        assert_eq!(encode(&header(), &payload, &mut out), Err(FrameError::PayloadTooLarge(239)));
    }

    #[test]
    fn a_flipped_bit_fails_the_crc() {
        let mut out = [0u8; MAX_WIRE];
        let n = encode(&header(), b"\x02hello", &mut out).expect("encodes");
        let len = cobs::decode_in_place(&mut out[..n - 1]).expect("valid cobs");
        for i in 0..len {
            let mut raw = out;
            raw[i] ^= 0x10;
            assert_eq!(parse(&raw[..len]), Err(FrameError::Crc), "bit flip at byte {i}");
        }
    }
}
