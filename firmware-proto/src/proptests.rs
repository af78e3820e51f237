//! Round-trip property tests of every message set (here, where `Arbitrary` is derived).

use proptest::prelude::*;

use crate::decoder::Decoder;
use crate::frame::{self, Channel, Flags, Header};
use crate::host::{BoardToHost, HostToBoard};
use crate::message::{self, Decoded, Message};
use crate::plant::{BoardToPlant, PlantToBoard};

fn round_trip<M: Message + PartialEq + Clone>(m: &M, tail: &[u8]) -> Result<(), TestCaseError> {
    let mut payload = message::encode_vec(m).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(payload[0], m.kind(), "kind byte is the variant index");
    prop_assert!(m.kind() < M::KINDS);
    prop_assert_eq!(message::decode::<M>(&payload), Ok(Decoded::Known(m.clone())));
    // Through a frame and the streaming decoder.
    let header = Header {
        channel: Channel::Host,
        flags: Flags::DATA,
        stream: 3,
        seq: 9,
        base: 9,
        ack_stream: 0,
        ack: 0,
    };
    let mut wire = [0u8; frame::MAX_WIRE];
    let n = frame::encode(&header, &payload, &mut wire).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    let mut input = &wire[..n];
    let mut decoder = Decoder::new();
    let got = decoder.feed(&mut input).and_then(Result::ok).map(|f| f.payload.to_vec());
    prop_assert_eq!(got.as_deref(), Some(&payload[..]));
    // Fields appended by a newer peer are ignored.
    payload.extend_from_slice(tail);
    prop_assert_eq!(message::decode::<M>(&payload), Ok(Decoded::Known(m.clone())));
    Ok(())
}

proptest! {
    #[test]
    fn host_to_board_round_trips(m in any::<HostToBoard>(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        round_trip(&m, &tail)?;
    }

    #[test]
    fn board_to_host_round_trips(m in any::<BoardToHost>(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        round_trip(&m, &tail)?;
    }

    #[test]
    fn board_to_plant_round_trips(m in any::<BoardToPlant>(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        round_trip(&m, &tail)?;
    }

    #[test]
    fn plant_to_board_round_trips(m in any::<PlantToBoard>(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
        round_trip(&m, &tail)?;
    }

    #[test]
    fn unknown_kinds_are_reported_not_fatal(kind in BoardToHost::KINDS..=255u8, body in proptest::collection::vec(any::<u8>(), 0..32)) {
        let mut payload = vec![kind];
        payload.extend(body);
        prop_assert_eq!(message::decode::<BoardToHost>(&payload), Ok(Decoded::Unknown { kind }));
    }

    #[test]
    fn arbitrary_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = message::decode::<HostToBoard>(&payload);
        let _ = message::decode::<BoardToHost>(&payload);
        let _ = message::decode::<BoardToPlant>(&payload);
        let _ = message::decode::<PlantToBoard>(&payload);
    }
}

#[test]
fn kinds_count_every_variant() {
    assert_eq!(HostToBoard::KINDS, 10);
    assert_eq!(BoardToHost::KINDS, 19);
    assert_eq!(BoardToPlant::KINDS, 8);
    assert_eq!(PlantToBoard::KINDS, 10);
    assert_eq!(HostToBoard::Ping { nonce: 1 }.kind(), 9);
    assert_eq!(BoardToHost::Rejected { command: 0, reason: crate::types::Rejection::Busy }.kind(), 18);
}
