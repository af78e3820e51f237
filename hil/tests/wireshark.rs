//! The Wireshark dissector (`hil/wireshark/key_automat.lua`): its message names are the
//! protocol crate's, and `tshark` with it decodes every frame of a `hil run --pcap` to the
//! message the run's trace has for the same bytes.

#![allow(clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use firmware_proto::frame::{Channel, Flags};
use firmware_proto::host::{BoardToHost, HostToBoard};
use firmware_proto::message::Message;
use firmware_proto::plant::{BoardToPlant, PlantToBoard};

const BEGIN: &str = "-- BEGIN GENERATED";
const END: &str = "-- END GENERATED";

fn dissector() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("wireshark/key_automat.lua")
}

fn table<M: Message>(name: &str) -> String {
    let entries: Vec<String> = M::NAMES.iter().enumerate().map(|(k, n)| format!("[{k}] = \"{n}\"")).collect();
    format!("local {name} = {{ {} }}\n", entries.join(", "))
}

/// The generated part of the dissector: the four message sets' names by kind.
fn generated() -> String {
    [
        table::<HostToBoard>("host_to_board"),
        table::<BoardToHost>("board_to_host"),
        table::<BoardToPlant>("board_to_plant"),
        table::<PlantToBoard>("plant_to_board"),
    ]
    .concat()
}

#[test]
fn the_dissector_names_every_message_as_the_protocol_crate_does() {
    let path = dissector();
    let text = std::fs::read_to_string(&path).expect("the dissector");
    let begin = text.find(BEGIN).expect("a generated part");
    let start = begin + text[begin..].find('\n').expect("a line") + 1;
    let end = text.find(END).expect("its end");
    if std::env::var_os("UPDATE_DISSECTOR").is_some() {
        let updated = format!("{}{}{}", &text[..start], generated(), &text[end..]);
        std::fs::write(&path, updated).expect("written");
        return;
    }
    assert_eq!(
        &text[start..end],
        generated(),
        "the dissector's names are stale: UPDATE_DISSECTOR=1 cargo test -p hil --test wireshark"
    );
}

fn tshark() -> PathBuf {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("tshark"))
        .find(|p| p.is_file());
    found.expect("no tshark on PATH: scripts/test-all installs Debian's tshark package")
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex")).collect()
}

/// What the protocol crate makes of a chunk of wire bytes: `(from the board, message name)`,
/// the name `ack` for a frame without a message.
fn decoded(from_board: bool, wire: &[u8]) -> (bool, String) {
    let raw = cobs::decode_vec(wire.strip_suffix(&[0]).expect("a delimiter")).expect("COBS");
    let frame = firmware_proto::frame::parse(&raw).expect("a frame");
    let name = if frame.header.flags.contains(Flags::DATA) && !frame.payload.is_empty() {
        let names = match (frame.header.channel, from_board) {
            (Channel::Host, false) => HostToBoard::NAMES,
            (Channel::Host, true) => BoardToHost::NAMES,
            (Channel::Plant, true) => BoardToPlant::NAMES,
            (Channel::Plant, false) => PlantToBoard::NAMES,
        };
        names[usize::from(frame.payload[0])].to_string()
    } else {
        "ack".to_string()
    };
    (from_board, name)
}

#[test]
fn tshark_decodes_every_frame_of_a_library_run_as_the_trace_has_it() {
    let mut board = Command::new(env!("CARGO_BIN_EXE_hil"))
        .arg("virtual-board")
        .stdout(Stdio::piped())
        .spawn()
        .expect("virtual board starts");
    let mut path = String::new();
    BufReader::new(board.stdout.take().expect("stdout")).read_line(&mut path).expect("its PTY");
    let dir = tempfile::tempdir().expect("temp dir");
    let pcap = dir.path().join("run.pcap");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/bundle_minimal_travel.ron");
    let out = Command::new(env!("CARGO_BIN_EXE_hil"))
        .args(["run", "--port", path.trim(), "--pcap"])
        .arg(&pcap)
        .arg("--out")
        .arg(dir.path().join("out"))
        .arg(&scenario)
        .output()
        .expect("hil run");
    let _ = board.kill();
    let _ = board.wait();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));

    // The trace's line bytes, decoded by the protocol crate.
    let trace = std::fs::read_to_string(
        dir.path().join("out/bundle-of-three-keys-in-minimal-travel-order/trace.jsonl"),
    )
    .expect("trace");
    let mut want = Vec::new();
    for line in trace.lines().filter(|l| l.contains("\"type\":\"bytes\"")) {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let from_board = v["dir"] == "up";
        want.push(decoded(from_board, &hex(v["hex"].as_str().expect("hex"))));
    }
    assert!(want.len() > 100, "a run's worth of frames: {}", want.len());

    let o = Command::new(tshark())
        .arg("-X")
        .arg(format!("lua_script:{}", dissector().display()))
        .arg("-r")
        .arg(&pcap)
        .args([
            "-T",
            "fields",
            "-e",
            "keyautomat.direction",
            "-e",
            "keyautomat.message",
            "-e",
            "keyautomat.crc_good",
        ])
        .output()
        .expect("tshark runs");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "tshark: {}", String::from_utf8_lossy(&o.stderr));
    let mut got = Vec::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 3, "every packet dissected: {line:?}");
        assert_eq!(fields[2], "1", "the CRC checks: {line:?}");
        let name = if fields[1].is_empty() { "ack" } else { fields[1] };
        got.push((fields[0] == "1", name.to_string()));
    }
    // The pcap and the trace record each direction in the order it went; between directions
    // they may interleave differently.
    for from_board in [false, true] {
        let g: Vec<&String> = got.iter().filter(|(b, _)| *b == from_board).map(|(_, n)| n).collect();
        let w: Vec<&String> = want.iter().filter(|(b, _)| *b == from_board).map(|(_, n)| n).collect();
        let first = g.iter().zip(&w).position(|(a, b)| a != b);
        assert!(
            first.is_none() && g.len() == w.len(),
            "from the board: {from_board}: tshark and the trace part at frame {first:?} \
             (tshark {:?}, trace {:?}; {} and {} frames)",
            first.map(|i| &g[i..(i + 5).min(g.len())]),
            first.map(|i| &w[i..(i + 5).min(w.len())]),
            g.len(),
            w.len()
        );
    }
    for name in ["Hello", "Booted", "PresentSlot", "MotorMove", "UnlockDoor", "ClockTick", "ClockAck"] {
        assert!(got.iter().any(|(_, n)| n == name), "{name} among the frames");
    }
}
