//! Garbage on the line: `hil run` and `hil probe` against a PTY peer that is not a board (it
//! sends random bytes, frames with a bad CRC, random frames with a good CRC, a flood of zero
//! bytes, echoes what it gets, or says nothing). Every case must end — the test kills a run
//! still going after a generous bound and fails — with a verdict that says what arrived, the
//! trace kept and the JUnit report written.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use firmware_proto::frame::{self, Channel, Flags, Header};
use hil::port::Port;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What the peer does.
#[derive(Clone, Copy, Debug)]
enum Garbage {
    RandomBytes,
    BadCrcFrames,
    ValidCrcFrames,
    ZeroFlood,
    Echo,
    Silence,
}

/// A frame with random header fields and payload, its CRC right; or wrong, with `bad_crc`.
fn random_frame(rng: &mut ChaCha8Rng, bad_crc: bool) -> Vec<u8> {
    let header = Header {
        channel: if rng.random() { Channel::Host } else { Channel::Plant },
        flags: Flags::from_bits(rng.random_range(0..4)),
        stream: rng.random(),
        seq: rng.random_range(0..8),
        base: 0,
        ack_stream: rng.random(),
        ack: rng.random_range(0..8),
    };
    let payload: Vec<u8> = (0..rng.random_range(0..40)).map(|_| rng.random()).collect();
    let mut wire = [0u8; frame::MAX_WIRE];
    let n = frame::encode(&header, &payload, &mut wire).expect("a frame within limits");
    let mut bytes = wire[..n].to_vec();
    if bad_crc {
        // Decode, flip a bit of the CRC, encode again: the framing stays right.
        let mut raw = cobs::decode_vec(&bytes[..n - 1]).expect("our own COBS");
        let last = raw.len() - 1;
        raw[last] ^= 0x10;
        bytes = cobs::encode_vec(&raw);
        bytes.push(0);
    }
    bytes
}

/// Starts the peer on a new PTY: the path for `hil` to open, and a flag that stops it.
fn peer(kind: Garbage) -> (String, Arc<AtomicBool>) {
    let (mut port, path) = Port::pty().expect("a PTY");
    let stop = Arc::new(AtomicBool::new(false));
    let done = stop.clone();
    std::thread::spawn(move || {
        let mut rng = ChaCha8Rng::seed_from_u64(kind as u64);
        while !done.load(Ordering::Relaxed) {
            let bytes: Vec<u8> = match kind {
                Garbage::RandomBytes => (0..256).map(|_| rng.random()).collect(),
                Garbage::BadCrcFrames => random_frame(&mut rng, true),
                Garbage::ValidCrcFrames => random_frame(&mut rng, false),
                Garbage::ZeroFlood => vec![0; 512],
                Garbage::Echo | Garbage::Silence => {
                    match port.read(Some(Instant::now() + Duration::from_millis(50))) {
                        Ok(Some(got)) if matches!(kind, Garbage::Echo) => got,
                        Ok(_) => continue,
                        Err(_) => return,
                    }
                }
            };
            if port.write(&bytes).is_err() {
                return;
            }
            // Drain what `hil` sends, so that its writes never block on a full PTY.
            if port.read(None).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    (path, stop)
}

/// Runs `hil` with `args`, killing it if it is still going after `bound` (a hang, not a speed
/// check: a run that ends at all ends within seconds).
fn bounded(args: &[&str], bound: Duration) -> Result<Output, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hil"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hil starts");
    let started = Instant::now();
    while child.try_wait().expect("waits").is_none() {
        if started.elapsed() > bound {
            let _ = child.kill();
            let out = child.wait_with_output().expect("killed");
            return Err(format!(
                "hil {} still running after {} s: it hangs\nstdout: {}\nstderr: {}",
                args.join(" "),
                bound.as_secs(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(child.wait_with_output().expect("output"))
}

fn run_against(kind: Garbage) {
    let (path, stop) = peer(kind);
    let dir = tempfile::tempdir().expect("temp dir");
    let junit = dir.path().join("junit.xml");
    let out_dir = dir.path().join("out");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/short_take.ron");
    let out = bounded(
        &[
            "run",
            "--port",
            &path,
            "--junit",
            junit.to_str().expect("utf-8"),
            "--out",
            out_dir.to_str().expect("utf-8"),
            scenario.to_str().expect("utf-8"),
        ],
        Duration::from_secs(120),
    )
    .expect("hil run ends");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{kind:?}: the scenario fails\n{text}");
    assert!(
        text.contains("the board did not acknowledge the clock within 5 s of wall time"),
        "{kind:?}: {text}"
    );
    let said = match kind {
        Garbage::Silence => "nothing arrived from the board meanwhile",
        Garbage::RandomBytes | Garbage::BadCrcFrames | Garbage::ZeroFlood => "none of them a valid frame",
        Garbage::ValidCrcFrames | Garbage::Echo => "valid host and",
    };
    assert!(text.contains(said), "{kind:?}: the verdict says what arrived ({said:?})\n{text}");
    let report = std::fs::read_to_string(&junit).expect("JUnit written");
    assert!(report.contains("<failure") && report.contains("did not acknowledge the clock"), "{report}");
    let trace = std::fs::read_dir(&out_dir)
        .expect("out dir")
        .filter_map(Result::ok)
        .map(|e| e.path().join("trace.jsonl"))
        .find(|p| p.exists())
        .expect("a trace");
    let trace = std::fs::read_to_string(trace).expect("trace");
    assert!(trace.contains("\"type\":\"end\""), "the trace is complete");
    if !matches!(kind, Garbage::Silence) {
        assert!(trace.contains("\"dir\":\"up\""), "{kind:?}: what arrived is in the trace");
    }
    // The probe gives up too, and says so.
    let out = bounded(&["probe", "--port", &path, "--pings", "3"], Duration::from_secs(60))
        .expect("hil probe ends");
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{kind:?}: the probe fails\n{text}");
    assert!(text.contains("no answer within"), "{kind:?}: {text}");
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn random_bytes() {
    run_against(Garbage::RandomBytes);
}

#[test]
fn frames_with_a_bad_crc() {
    run_against(Garbage::BadCrcFrames);
}

#[test]
fn random_frames_with_a_good_crc() {
    run_against(Garbage::ValidCrcFrames);
}

#[test]
fn a_flood_of_zero_bytes() {
    run_against(Garbage::ZeroFlood);
}

#[test]
fn a_loopback_that_echoes_every_frame() {
    run_against(Garbage::Echo);
}

#[test]
fn a_peer_that_says_nothing() {
    run_against(Garbage::Silence);
}
