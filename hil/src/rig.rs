//! Rig mode's operator: prompts on the terminal (standard error, so the results table stays
//! clean on standard output) and answers read from standard input — a line to confirm a step
//! is done, `s` to skip it. End of input skips what is asked.

use std::io::BufRead;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, TryRecvError, channel};

use sim::run::Operator;

/// The person at the rig, on this process's terminal.
#[derive(Debug)]
pub struct TerminalOperator {
    answers: Mutex<Receiver<String>>,
}

impl TerminalOperator {
    /// Starts reading standard input.
    pub fn new() -> Self {
        TerminalOperator::from_lines(std::io::BufReader::new(std::io::stdin()))
    }

    /// Answers from any line source (tests).
    pub fn from_lines(input: impl BufRead + Send + 'static) -> Self {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in input.lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        TerminalOperator { answers: Mutex::new(rx) }
    }
}

impl Default for TerminalOperator {
    fn default() -> Self {
        TerminalOperator::new()
    }
}

impl Operator for TerminalOperator {
    #[allow(clippy::print_stderr)]
    fn ask(&mut self, at: &str, instruction: &str) {
        eprintln!("[rig {at}] {instruction} — Enter when done, s + Enter to skip");
    }

    fn answer(&mut self) -> Option<bool> {
        let answers = self.answers.lock().ok()?;
        match answers.try_recv() {
            Ok(line) => Some(line.trim() != "s"),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(false),
        }
    }
}

/// One operator shared by the runs of a suite (one person, one terminal).
#[derive(Debug, Clone)]
pub struct SharedOperator(pub std::sync::Arc<Mutex<TerminalOperator>>);

impl Operator for SharedOperator {
    fn ask(&mut self, at: &str, instruction: &str) {
        if let Ok(mut o) = self.0.lock() {
            o.ask(at, instruction);
        }
    }

    fn answer(&mut self) -> Option<bool> {
        self.0.lock().ok()?.answer()
    }
}
