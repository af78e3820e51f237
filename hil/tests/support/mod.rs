//! What the command-line tests share: the `hil` binary, and `hil virtual-board` as a process.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The `hil` binary under test.
pub(crate) fn hil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hil"))
}

/// `hil virtual-board` as a process, and the PTY path it printed.
pub(crate) struct Board(pub(crate) Child, pub(crate) String);

impl Board {
    /// Starts one with `args` and waits for its PTY's path.
    pub(crate) fn start(args: &[&str]) -> Board {
        let mut child = hil()
            .arg("virtual-board")
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("virtual board starts");
        let mut line = String::new();
        let out = child.stdout.take().expect("stdout");
        BufReader::new(out).read_line(&mut line).expect("prints its PTY");
        Board(child, line.trim().to_string())
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
