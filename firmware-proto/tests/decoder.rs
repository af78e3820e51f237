//! The streaming decoder against random bytes and random chunkings.

#![allow(clippy::panic, clippy::needless_range_loop)]

use firmware_proto::decoder::Decoder;
use firmware_proto::frame::{self, Channel, Flags, Header, MAX_PAYLOAD, MAX_WIRE};
use proptest::prelude::*;

fn frame_bytes(seq: u16, payload: &[u8]) -> Vec<u8> {
    let header = Header {
        channel: Channel::Plant,
        flags: Flags::DATA,
        stream: 1,
        seq,
        base: seq,
        ack_stream: 0,
        ack: 0,
    };
    let mut out = [0u8; MAX_WIRE];
    let n = frame::encode(&header, payload, &mut out).expect("payload within limits");
    out[..n].to_vec()
}

/// Feeds `bytes` split at `cuts` and returns the seqs of the valid frames.
fn decode_chunked(decoder: &mut Decoder, bytes: &[u8], cuts: &[usize]) -> Vec<u16> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    let mut seqs = Vec::new();
    for w in points.windows(2) {
        let mut input = &bytes[w[0]..w[1]];
        while let Some(result) = decoder.feed(&mut input) {
            if let Ok(f) = result {
                seqs.push(f.header.seq);
            }
        }
        assert!(decoder.buffered() < MAX_WIRE, "memory stays bounded");
    }
    seqs
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_and_stay_bounded(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        cuts in proptest::collection::vec(any::<usize>(), 0..64),
    ) {
        let mut decoder = Decoder::new();
        let _ = decode_chunked(&mut decoder, &bytes, &cuts);
    }

    #[test]
    fn every_frame_embedded_in_garbage_is_recovered(
        pieces in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..600), proptest::collection::vec(any::<u8>(), 0..=MAX_PAYLOAD)),
            1..12,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..64),
    ) {
        // garbage, a delimiter (a sender's line break after noise), then a valid frame
        let mut bytes = Vec::new();
        for (i, (garbage, payload)) in pieces.iter().enumerate() {
            bytes.extend_from_slice(garbage);
            bytes.push(0);
            bytes.extend(frame_bytes(i as u16, payload));
        }
        let mut decoder = Decoder::new();
        let got = decode_chunked(&mut decoder, &bytes, &cuts);
        prop_assert_eq!(got, (0..pieces.len() as u16).collect::<Vec<_>>());
        prop_assert_eq!(decoder.stats().frames, pieces.len() as u64);
    }

    #[test]
    fn byte_at_a_time_equals_all_at_once(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)) {
        let bytes: Vec<u8> = payloads.iter().enumerate().flat_map(|(i, p)| frame_bytes(i as u16, p)).collect();
        let cuts: Vec<usize> = (0..bytes.len()).collect();
        let one = decode_chunked(&mut Decoder::new(), &bytes, &cuts);
        let all = decode_chunked(&mut Decoder::new(), &bytes, &[]);
        prop_assert_eq!(&one, &all);
        prop_assert_eq!(one.len(), payloads.len());
    }
}
