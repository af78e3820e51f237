//! The serial hardware-in-the-loop bridge: the harness keeps playing controller and plant, and
//! only the board box moves across a serial port — to a real board, or to `hil virtual-board`
//! (the reference firmware on a PTY). See `hil/TESTING.md`.

pub mod faults;
pub mod pcap;
pub mod port;
pub mod probe;
pub mod remote;
pub mod rig;
pub mod virtual_board;
