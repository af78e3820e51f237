//! Board pools for CI rigs: a hardware map (RON) names the boards of a rig, each by a stable
//! port path (`/dev/serial/by-id/…`) or a USB serial number, with its carousel, key, id and
//! power and reset hooks (see [`crate::hooks`]);
//! `hil run --pool FILE [--board NAME]` takes a free one. A board is held with an
//! exclusive advisory lock (`flock`) on `<locks>/<name>.lock` for as long as the process runs,
//! so two CI jobs never share a board; the lock file says who holds it and since when.
//!
//! ```ron
//! (
//!     locks: "/var/lock/hil",
//!     boards: [
//!         (name: "bench-1", port: "/dev/serial/by-id/usb-Acme_KeyBoard_A1B2-if00", slots: 30),
//!         (name: "bench-2", usb_serial: "A1B2C4", slots: 12, board_id: "0x0B000002",
//!          power_off: "relayctl 2 off", power_on: "relayctl 2 on", reset: "flash-board 2"),
//!     ],
//! )
//! ```

use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// A rig's hardware map.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwareMap {
    /// Where the lock files are (default: the system's temporary directory, `hil-locks/`).
    #[serde(default)]
    pub locks: Option<PathBuf>,
    /// The boards.
    pub boards: Vec<BoardEntry>,
}

/// One board of a rig.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardEntry {
    /// Its name: what `--board` picks, and its lock file's name.
    pub name: String,
    /// Its port by a path that stays the same across reboots and replugging.
    #[serde(default)]
    pub port: Option<String>,
    /// Or its USB adapter's serial number, looked up among this machine's ports.
    #[serde(default)]
    pub usb_serial: Option<String>,
    /// The plant link's own port, when it has one.
    #[serde(default)]
    pub plant_port: Option<String>,
    /// Slots on its carousel.
    pub slots: u8,
    /// Its pairing key, 64 hex digits (default: the test rigs' key).
    #[serde(default)]
    pub key: Option<String>,
    /// Its board id, decimal or `0x…` (default: the test rigs' id).
    #[serde(default)]
    pub board_id: Option<String>,
    /// A shell command that cuts the board's supply (a scenario's `PowerCut`).
    #[serde(default)]
    pub power_off: Option<String>,
    /// A shell command that restores it (`PowerRestore`).
    #[serde(default)]
    pub power_on: Option<String>,
    /// A shell command run before each scenario (reset or flash the board).
    #[serde(default)]
    pub reset: Option<String>,
}

impl HardwareMap {
    /// Reads and checks a map: a bad one is refused with the place of the problem.
    pub fn load(path: &Path) -> Result<HardwareMap, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // Optional fields are written bare (`port: "/dev/…"`), as in scenarios.
        let ron = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        let map: HardwareMap = ron.from_str(&text).map_err(|e| format!("{}:{e}", path.display()))?;
        if map.boards.is_empty() {
            return Err(format!("{}: the map names no board", path.display()));
        }
        for (i, b) in map.boards.iter().enumerate() {
            let at = format!("{}: board {:?}", path.display(), b.name);
            if !crate::is_name(&b.name) {
                return Err(format!("{at}: a board's name is letters, digits, '-' and '_'"));
            }
            if map.boards[..i].iter().any(|o| o.name == b.name) {
                return Err(format!("{at}: named twice"));
            }
            if b.power_off.is_some() != b.power_on.is_some() {
                return Err(format!("{at}: `power_off` and `power_on` go together"));
            }
            match (&b.port, &b.usb_serial) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => return Err(format!("{at}: give either `port` or `usb_serial`")),
            }
        }
        Ok(map)
    }

    /// The lock directory.
    pub fn lock_dir(&self) -> PathBuf {
        self.locks.clone().unwrap_or_else(|| std::env::temp_dir().join("hil-locks"))
    }
}

impl BoardEntry {
    /// The port's path: as given, or the port whose USB serial number matches.
    pub fn resolve_port(&self) -> Result<String, String> {
        if let Some(p) = &self.port {
            return Ok(p.clone());
        }
        let serial = self.usb_serial.as_deref().unwrap_or_default();
        let ports = tokio_serial::available_ports().map_err(|e| format!("cannot list serial ports: {e}"))?;
        ports
            .into_iter()
            .find(|p| {
                matches!(&p.port_type, tokio_serial::SerialPortType::UsbPort(u)
                    if u.serial_number.as_deref() == Some(serial))
            })
            .map(|p| p.port_name)
            .ok_or_else(|| {
                format!("board {}: no port with USB serial number {serial:?} on this machine", self.name)
            })
    }
}

/// A board held by this process: the lock is released when it is dropped (or the process ends).
#[derive(Debug)]
pub struct Held {
    /// The board.
    pub board: BoardEntry,
    _lock: File,
}

/// Why no board was taken.
#[derive(Debug, PartialEq, Eq)]
pub enum TakeError {
    /// Every board asked for was busy until the wait ran out: who held each.
    Busy(String),
    /// The map or the lock directory is wrong.
    Bad(String),
}

/// Tries to lock `board`: `Ok(None)` when another process holds it.
fn try_hold(dir: &Path, board: &BoardEntry) -> Result<Option<Held>, String> {
    let path = dir.join(format!("{}.lock", board.name));
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {
            let since =
                jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now());
            let stamp = format!("pid {} since {since}\n", std::process::id());
            let written =
                file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(stamp.as_bytes()));
            written.map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(Some(Held { board: board.clone(), _lock: file }))
        }
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(format!("{}: {e}", path.display())),
    }
}

/// Who holds `board`, as its lock file says.
fn holder(dir: &Path, board: &BoardEntry) -> String {
    let mut text = String::new();
    let read =
        File::open(dir.join(format!("{}.lock", board.name))).and_then(|mut f| f.read_to_string(&mut text));
    match read {
        Ok(_) if !text.trim().is_empty() => format!("board {} is busy (held by {})", board.name, text.trim()),
        _ => format!("board {} is busy", board.name),
    }
}

/// Takes the first free board of `map` that `fits` (and is `name`, if given), waiting up to
/// `wait` for one to come free.
pub fn take(
    map: &HardwareMap,
    name: Option<&str>,
    fits: impl Fn(&BoardEntry) -> bool,
    wait: Duration,
) -> Result<Held, TakeError> {
    let candidates: Vec<&BoardEntry> =
        map.boards.iter().filter(|b| name.is_none_or(|n| b.name == n)).collect();
    if let Some(n) = name
        && candidates.is_empty()
    {
        let known: Vec<&str> = map.boards.iter().map(|b| b.name.as_str()).collect();
        return Err(TakeError::Bad(format!("no board {n:?} in the map (it has {})", known.join(", "))));
    }
    let candidates: Vec<&BoardEntry> = candidates.into_iter().filter(|b| fits(b)).collect();
    if candidates.is_empty() {
        return Err(TakeError::Bad("no board of the map fits the scenarios".into()));
    }
    let dir = map.lock_dir();
    std::fs::create_dir_all(&dir).map_err(|e| TakeError::Bad(format!("{}: {e}", dir.display())))?;
    let until = Instant::now() + wait;
    loop {
        for b in &candidates {
            if let Some(held) = try_hold(&dir, b).map_err(TakeError::Bad)? {
                return Ok(held);
            }
        }
        if Instant::now() >= until {
            let who: Vec<String> = candidates.iter().map(|b| holder(&dir, b)).collect();
            return Err(TakeError::Busy(format!(
                "{}; still so after waiting {} s (--pool-wait)",
                who.join("; "),
                wait.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(dir: &Path, text: &str) -> Result<HardwareMap, String> {
        let path = dir.join("rig.ron");
        std::fs::write(&path, text).expect("written");
        HardwareMap::load(&path)
    }

    #[test]
    fn a_bad_map_is_refused_with_the_place_of_the_problem() {
        let dir = tempfile::tempdir().expect("temp dir");
        let e = map(dir.path(), "(boards: [(name: \"a\", port: \"/dev/x\", slots: 30, colour: 1)])")
            .expect_err("refused");
        assert!(e.contains("rig.ron:1:") && e.contains("colour"), "{e}");
        let e = map(dir.path(), "(boards: [(name: \"a\", slots: 30)])").expect_err("refused");
        assert!(e.contains("either `port` or `usb_serial`"), "{e}");
        let e = map(
            dir.path(),
            "(boards: [(name: \"a\", port: \"p\", slots: 30), (name: \"a\", port: \"q\", slots: 30)])",
        )
        .expect_err("refused");
        assert!(e.contains("named twice"), "{e}");
        let e = map(dir.path(), "(boards: [(name: \"a b\", port: \"p\", slots: 30)])").expect_err("refused");
        assert!(e.contains("a board's name is letters"), "{e}");
        let e = map(dir.path(), "(boards: [(name: \"a\", port: \"p\", slots: 30, power_off: \"x\")])")
            .expect_err("refused");
        assert!(e.contains("go together"), "{e}");
    }

    #[test]
    fn a_held_board_is_not_taken_twice_and_its_holder_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = format!(
            "(locks: {:?}, boards: [(name: \"a\", port: \"/dev/a\", slots: 30), (name: \"b\", port: \"/dev/b\", slots: 12)])",
            dir.path().join("locks")
        );
        let m = map(dir.path(), &text).expect("loads");
        let first = take(&m, None, |_| true, Duration::ZERO).expect("a free board");
        assert_eq!(first.board.name, "a");
        // The lock is per open file description: a second open in this process is refused too.
        let second = take(&m, None, |_| true, Duration::ZERO).expect("the other one");
        assert_eq!(second.board.name, "b");
        let e = take(&m, None, |_| true, Duration::from_millis(300)).expect_err("none free");
        let TakeError::Busy(why) = e else { panic!("busy expected") };
        assert!(why.contains(&format!("board a is busy (held by pid {} since", std::process::id())), "{why}");
        drop(first);
        assert_eq!(take(&m, None, |b| b.slots == 30, Duration::ZERO).expect("free again").board.name, "a");
        let e = take(&m, Some("c"), |_| true, Duration::ZERO).expect_err("unknown");
        assert_eq!(e, TakeError::Bad("no board \"c\" in the map (it has a, b)".into()));
    }
}
