//! `hil run` against a peer that sends only garbage must end, within a bound, with a verdict
//! that names the board: bytes on the line must not postpone the lockstep harness's deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hil::port::Port;

/// Each kind of garbage: random bytes, and a flood of zero bytes (empty frames).
fn garbage(kind: usize, i: u64) -> Vec<u8> {
    match kind {
        0 => (0..64u64).map(|j| ((i * 7919 + j * 104_729) % 251) as u8 + 1).collect(),
        _ => vec![0; 64],
    }
}

#[test]
fn a_garbage_peer_ends_the_run_with_a_named_verdict() {
    let happy = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/happy_take_and_return.ron");
    for kind in 0..2 {
        let (mut peer, path) = Port::pty().expect("a PTY");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let writer = std::thread::spawn(move || {
            let mut i = 0;
            while !flag.load(Ordering::Relaxed) {
                let _ = peer.write(&garbage(kind, i));
                let _ = peer.read(Some(Instant::now() + Duration::from_millis(5)));
                i += 1;
            }
        });
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hil"))
            .args(["run", "--timeout", "0s", "--port", &path, happy])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("hil starts");
        let started = Instant::now();
        let bound = Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().expect("waits") {
                break Some(status);
            }
            if started.elapsed() > bound {
                let _ = child.kill();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        stop.store(true, Ordering::Relaxed);
        let _ = writer.join();
        let out = child.wait_with_output().expect("output");
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let status =
            status.unwrap_or_else(|| panic!("garbage kind {kind}: still running after {bound:?}: {text}"));
        assert_eq!(status.code(), Some(1), "garbage kind {kind}: {text}");
        assert!(
            text.contains("FAIL") && text.contains("board"),
            "garbage kind {kind}: a verdict naming the board: {text}"
        );
        println!(
            "garbage kind {kind}: ended in {:.1} s: {}",
            started.elapsed().as_secs_f64(),
            text.lines().nth(2).unwrap_or("")
        );
    }
}
