//! The serial hardware-in-the-loop bridge: the harness keeps playing controller and plant, and
//! only the board box moves across a serial port — to a real board, or to `hil virtual-board`
//! (the reference firmware on a PTY). See `hil/TESTING.md`.

pub mod conformance;
pub mod faults;
pub mod hooks;
pub mod pcap;
pub mod pool;
pub mod port;
pub mod probe;
pub mod remote;
pub mod rig;
pub mod virtual_board;

/// Whether `s` is a name for a board or a file: letters, digits, `-` and `_`, not empty.
pub fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
