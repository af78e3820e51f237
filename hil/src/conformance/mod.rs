//! `hil conformance --port P`: walks a board through the rules of PROTOCOL.md one at a time and
//! says, per rule and with its section, whether the board keeps it. The suite plays host and
//! plant itself (a scripted carousel, [`bench::Mech`]) on the board's lockstep clock, so every
//! rule runs the same on every run; each rule starts a new harness run, which restarts the board
//! (§8.3), so one broken rule does not spoil the next.
//!
//! A vendor runs it against their board before the scenario library; `hil virtual-board`
//! passes all of it, and its hidden `--flaw` option breaks one rule for the suite's own tests.

pub mod bench;
mod rules;

use std::time::Duration;

use firmware_proto::Instant;
use firmware_proto::auth::{CommandSigner, PairingKey};
use firmware_proto::host::{BoardToHost, HostToBoard};
use firmware_proto::plant::PlantToBoard;

use crate::port::Port;
use bench::{Got, Mech, Session};

/// What the suite needs to know of the board and the rig.
#[derive(Clone, Debug)]
pub struct Options {
    /// The board's pairing key.
    pub key: PairingKey,
    /// The board id it was paired with.
    pub board_id: u32,
    /// Cuts the board's supply (`sh -c`); with `power_on`, the power-cut rule runs.
    pub power_off: Option<String>,
    /// Restores it.
    pub power_on: Option<String>,
}

/// One rule's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The board keeps the rule.
    Pass,
    /// It does not: what was seen.
    Fail(String),
    /// The rule could not be tried on this rig: why.
    NotRun(String),
}

/// A rule, its section of PROTOCOL.md, and how the board did.
#[derive(Clone, Debug)]
pub struct RuleResult {
    /// What the rule is about.
    pub name: &'static str,
    /// Where PROTOCOL.md states it.
    pub section: &'static str,
    /// How the board did.
    pub verdict: Verdict,
}

/// Why a rule did not pass.
#[derive(Debug)]
enum Miss {
    Fail(String),
    NotRun(String),
}

impl From<String> for Miss {
    fn from(s: String) -> Self {
        Miss::Fail(s)
    }
}

type Check = Result<(), Miss>;

/// Fails with `what` unless `ok`.
fn ensure(ok: bool, what: impl FnOnce() -> String) -> Check {
    if ok { Ok(()) } else { Err(Miss::Fail(what())) }
}

/// The board under test, across the suite's sessions.
struct Bench<'p> {
    port: &'p mut Port,
    opts: Options,
    /// Its slot count, from its first hello (30 until then).
    slots: u8,
    /// Commands are signed with counters above everything the board accepted.
    signer: CommandSigner,
    /// The next pair of stream ids: every session gets new ones.
    streams: u8,
}

impl<'p> Bench<'p> {
    fn new(port: &'p mut Port, opts: Options) -> Self {
        let signer = CommandSigner::new(opts.key.clone(), opts.board_id, 0);
        Bench { port, opts, slots: 30, signer, streams: crate::remote::fresh_salt() }
    }

    /// A new harness run at `at` on new streams: the board restarts (§8.3).
    fn open(
        &mut self,
        at: Instant,
        hear_host: bool,
        hold_sensors: bool,
    ) -> Result<(Session<'_>, &mut CommandSigner), String> {
        self.start(at, hear_host, hold_sensors, None)
    }

    /// A new harness run whose first message is `first`, then the clock at `at`.
    fn open_after(
        &mut self,
        at: Instant,
        first: PlantToBoard,
    ) -> Result<(Session<'_>, &mut CommandSigner), String> {
        self.start(at, true, false, Some(first))
    }

    fn start(
        &mut self,
        at: Instant,
        hear_host: bool,
        hold_sensors: bool,
        first: Option<PlantToBoard>,
    ) -> Result<(Session<'_>, &mut CommandSigner), String> {
        self.streams = self.streams.wrapping_add(2);
        let streams = (self.streams, self.streams.wrapping_add(1));
        let mut mech = Mech::new(self.slots);
        mech.hold_sensors = hold_sensors;
        let session = Session::start(&mut *self.port, streams, at, mech, hear_host, first)?;
        Ok((session, &mut self.signer))
    }
}

/// The board's answer to a `Hello`, and everything that came with it.
fn hello(
    s: &mut Session<'_>,
    signer: &mut CommandSigner,
) -> Result<(BoardHello, Vec<(Instant, Got)>), String> {
    let challenge: [u8; 16] = rand::Rng::random(&mut crate::probe::rng());
    s.host(&HostToBoard::Hello { protocol: 1, challenge })?;
    let is_hello = |g: &Got| matches!(g, Got::Host(BoardToHost::Hello { .. }));
    if !s.pending().iter().any(|(_, g)| is_hello(g)) {
        // An answer may trail the tick's acknowledgement on a board that just came up (its
        // link ends adopt the harness's streams with what is in flight, §4.3).
        let _ = s.until(Duration::from_secs(1), is_hello);
    }
    let got = s.take();
    let found = got.iter().find_map(|(_, g)| match g {
        Got::Host(BoardToHost::Hello {
            protocol,
            board_id,
            slot_count,
            capabilities,
            last_counter,
            proof,
            ..
        }) => Some(BoardHello {
            protocol: *protocol,
            board_id: *board_id,
            slots: *slot_count,
            capabilities: capabilities.0,
            last_counter: *last_counter,
            proof_ok: signer.check_proof(&challenge, proof),
        }),
        _ => None,
    });
    let h =
        found.ok_or_else(|| format!("no Hello answered the host's Hello; the board sent {}", list(&got)))?;
    signer.observe_board_counter(h.last_counter);
    Ok((h, got))
}

/// What a board's hello says.
#[derive(Clone, Copy, Debug)]
struct BoardHello {
    protocol: u16,
    board_id: u32,
    slots: u8,
    capabilities: u32,
    last_counter: u32,
    proof_ok: bool,
}

/// A short list of messages for a verdict.
fn list(got: &[(Instant, Got)]) -> String {
    if got.is_empty() {
        return "nothing".into();
    }
    let names: Vec<String> = got
        .iter()
        .filter(|(_, g)| !matches!(g, Got::Plant(firmware_proto::plant::BoardToPlant::ClockAck { .. })))
        .map(|(t, g)| match g {
            Got::Host(m) => format!("{t} host {m:?}"),
            Got::Plant(m) => format!("{t} plant {m:?}"),
        })
        .collect();
    if names.is_empty() { "only clock acks".into() } else { names.join(", ") }
}

/// Runs every rule, in order.
pub fn run(port: &mut Port, opts: Options) -> Vec<RuleResult> {
    let mut bench = Bench::new(port, opts);
    rules::ALL
        .iter()
        .map(|rule| {
            let verdict = match (rule.check)(&mut bench) {
                Ok(()) => Verdict::Pass,
                Err(Miss::Fail(why)) => Verdict::Fail(why),
                Err(Miss::NotRun(why)) => Verdict::NotRun(why),
            };
            RuleResult { name: rule.name, section: rule.section, verdict }
        })
        .collect()
}

/// The table `hil conformance` prints, and its last line.
pub fn table(results: &[RuleResult]) -> String {
    let width = results.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let sec = results.iter().map(|r| r.section.len()).max().unwrap_or(7).max(7);
    let mut out = format!("{:width$}  {:sec$}  verdict\n", "rule", "section");
    for r in results {
        let verdict = match &r.verdict {
            Verdict::Pass => "pass".to_string(),
            Verdict::Fail(why) => format!("FAIL: {why}"),
            Verdict::NotRun(why) => format!("not run: {why}"),
        };
        out.push_str(&format!("{:width$}  {:sec$}  {verdict}\n", r.name, r.section));
    }
    let count = |f: fn(&Verdict) -> bool| results.iter().filter(|r| f(&r.verdict)).count();
    out.push_str(&format!(
        "{} rules: {} passed, {} failed, {} not run\n",
        results.len(),
        count(|v| *v == Verdict::Pass),
        count(|v| matches!(v, Verdict::Fail(_))),
        count(|v| matches!(v, Verdict::NotRun(_))),
    ));
    out
}

/// Seconds as a harness time.
fn at(seconds: f64) -> Instant {
    Instant::ZERO + Duration::from_secs_f64(seconds)
}
