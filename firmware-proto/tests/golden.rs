//! Golden vectors: exact bytes on the wire for a set of messages, kept in an insta snapshot and
//! in PROTOCOL.md (section "Golden vectors"), so the spec and the code cannot drift apart.
//!
//! After an intended change of the wire format: `UPDATE_PROTOCOL=1 cargo test -p firmware-proto
//! --test golden` rewrites the section of PROTOCOL.md, and `cargo insta review` the snapshot.

#![allow(clippy::panic, clippy::needless_range_loop)]

use std::fmt::Write as _;

use firmware_proto::auth::{CommandSigner, PairingKey, pairing_proof};
use firmware_proto::frame::{self, Channel, Flags, Header, MAX_WIRE};
use firmware_proto::host::{BoardToHost, HostToBoard};
use firmware_proto::message::{self, Message};
use firmware_proto::plant::{BoardToPlant, PlantToBoard};
use firmware_proto::types::*;

/// The pairing key of every golden vector: bytes 0x00, 0x01, …, 0x1F.
fn key() -> PairingKey {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = i as u8;
    }
    PairingKey(k)
}

const BOARD_ID: u32 = 0x0B0A_0001;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

struct Vector {
    title: &'static str,
    header: Header,
    payload: Vec<u8>,
    message: String,
}

fn data(channel: Channel, seq: u16, ack: Option<(u8, u16)>) -> Header {
    let (flags, (ack_stream, ack)) = match ack {
        Some(a) => (Flags::DATA | Flags::ACK, a),
        None => (Flags::DATA, (0, 0)),
    };
    Header { channel, flags, stream: 0x11, seq, base: seq, ack_stream, ack }
}

fn vector<M: Message>(title: &'static str, header: Header, m: &M) -> Vector {
    Vector { title, header, payload: message::encode_vec(m).expect("encodes"), message: format!("{m:?}") }
}

fn vectors() -> Vec<Vector> {
    let challenge: [u8; 16] = core::array::from_fn(|i| 0xC0 + i as u8);
    let mut signer = CommandSigner::new(key(), BOARD_ID, 41);
    let present = signer.present_slot(12);
    let unlock = signer.unlock_door(15_000);
    vec![
        vector("Host hello", data(Channel::Host, 0, None), &HostToBoard::Hello { protocol: 1, challenge }),
        vector(
            "Board hello, with the pairing proof over that challenge",
            data(Channel::Host, 1, Some((0x22, 1))),
            &BoardToHost::Hello {
                protocol: 1,
                board_id: BOARD_ID,
                firmware: FirmwareVersion { major: 1, minor: 0, patch: 0 },
                slot_count: 30,
                capabilities: Capabilities::REFERENCE,
                last_counter: 41,
                proof: pairing_proof(&key(), BOARD_ID, &challenge),
            },
        ),
        vector("PresentSlot 12, counter 42, MAC'd", data(Channel::Host, 1, Some((0x22, 2))), &present),
        vector("UnlockDoor 15 s, counter 43, MAC'd", data(Channel::Host, 2, Some((0x22, 2))), &unlock),
        vector(
            "SlotPresented 12, occupied",
            data(Channel::Host, 2, Some((0x11, 3))),
            &BoardToHost::SlotPresented { slot: 12, occupied: true },
        ),
        vector(
            "TagRead at slot 12: tag 04A1B2C3",
            data(Channel::Host, 3, Some((0x11, 3))),
            &BoardToHost::TagRead { slot: Some(12), tag: Some(TagId(0x04A1_B2C3)) },
        ),
        vector(
            "MotorFault: stall",
            data(Channel::Host, 4, Some((0x11, 3))),
            &BoardToHost::MotorFault { fault: MotorFault::Stall { expected: 8000, encoder: 6700 } },
        ),
        vector(
            "Tamper: replayed UnlockDoor, counter 43",
            data(Channel::Host, 5, Some((0x11, 3))),
            &BoardToHost::Tamper {
                source: TamperSource::Replay { command: SecuredCommand::UnlockDoor, counter: 43 },
            },
        ),
        vector(
            "ShowText \"Take key 12\"",
            data(Channel::Host, 3, Some((0x22, 6))),
            &HostToBoard::ShowText { text: "Take key 12".into() },
        ),
        vector(
            "Plant: MotorMove to 8000 at 2000 counts/s, 4000 counts/s²",
            data(Channel::Plant, 0, None),
            &BoardToPlant::MotorMove { target: 8000, max_velocity: 2000, acceleration: 4000 },
        ),
        vector(
            "Plant: home sensor active at encoder 6000",
            data(Channel::Plant, 7, Some((0x11, 1))),
            &PlantToBoard::HomeSensor { active: true, encoder: 6000 },
        ),
        vector(
            "Plant: lockstep ClockJump to 3600 s",
            data(Channel::Plant, 8, Some((0x11, 1))),
            &PlantToBoard::ClockJump { now_us: 3_600_000_000 },
        ),
        vector(
            "Plant: ClockAck, next deadline 3600.25 s (its plant link's keepalive)",
            data(Channel::Plant, 1, Some((0x22, 9))),
            &BoardToPlant::ClockAck { now_us: 3_600_000_000, next_deadline_us: Some(3_600_250_000) },
        ),
        Vector {
            title: "Control frame: ack only (no payload)",
            header: Header {
                channel: Channel::Host,
                flags: Flags::ACK,
                stream: 0x11,
                seq: 4,
                base: 4,
                ack_stream: 0x22,
                ack: 7,
            },
            payload: Vec::new(),
            message: "(none)".into(),
        },
    ]
}

fn render() -> String {
    let mut out = String::new();
    let k = key();
    writeln!(out, "Pairing key: `{}`; board id `0x{BOARD_ID:08X}`.\n", hex(&k.0)).ok();
    for (i, v) in vectors().iter().enumerate() {
        let mut wire = [0u8; MAX_WIRE];
        let n = frame::encode(&v.header, &v.payload, &mut wire).expect("encodes");
        let h = v.header;
        writeln!(out, "#### G{}. {}\n", i + 1, v.title).ok();
        writeln!(out, "```text").ok();
        writeln!(out, "message: {}", v.message).ok();
        writeln!(
            out,
            "header:  channel {:?}, flags {:#04x}, stream {:#04x}, seq {}, base {}, ack_stream {:#04x}, ack {}",
            h.channel,
            h.flags.bits(),
            h.stream,
            h.seq,
            h.base,
            h.ack_stream,
            h.ack
        )
        .ok();
        writeln!(out, "payload: {}", if v.payload.is_empty() { "(empty)".into() } else { hex(&v.payload) })
            .ok();
        writeln!(out, "wire:    {}", hex(&wire[..n])).ok();
        writeln!(out, "```\n").ok();
    }
    out
}

const START: &str = "<!-- golden vectors: generated by firmware-proto/tests/golden.rs -->\n";
const END: &str = "<!-- end of golden vectors -->";

#[test]
fn golden_vectors_match_the_snapshot() {
    insta::assert_snapshot!("golden_vectors", render());
}

#[test]
fn golden_vectors_match_protocol_md() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/PROTOCOL.md");
    let doc = std::fs::read_to_string(path).expect("PROTOCOL.md is readable");
    let (Some(start), Some(end)) = (doc.find(START), doc.find(END)) else {
        panic!("PROTOCOL.md lacks the golden vector markers");
    };
    let rendered = render();
    let current = &doc[start + START.len()..end];
    if current == rendered {
        return;
    }
    if std::env::var_os("UPDATE_PROTOCOL").is_some() {
        let updated = format!("{}{START}{rendered}{}", &doc[..start], &doc[end..]);
        std::fs::write(path, updated).expect("PROTOCOL.md is writable");
        return;
    }
    panic!(
        "PROTOCOL.md's golden vectors differ from the encoder; rerun with UPDATE_PROTOCOL=1 if the change is intended"
    );
}

#[test]
fn the_unlock_vector_verifies_with_its_key_and_counter() {
    let v = &vectors()[3];
    let Ok(message::Decoded::Known(HostToBoard::UnlockDoor { window_ms, auth })) =
        message::decode::<HostToBoard>(&v.payload)
    else {
        panic!("vector 4 is an UnlockDoor");
    };
    assert_eq!((window_ms, auth.counter), (15_000, 43));
    assert!(firmware_proto::auth::verify_command(
        &key(),
        BOARD_ID,
        SecuredCommand::UnlockDoor,
        window_ms,
        &auth
    ));
}
