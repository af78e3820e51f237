//! `hil`: run key automat scenarios against a real (or virtual) board on a serial port.
//!
//! ```text
//! hil ports
//! hil probe --port P [--baud B] [--key HEX] [--pings N]
//! hil run --port P | --pool MAP [--board NAME] [--pool-wait 10m] [--baud B]
//!         [--mode lockstep|realtime|rig] [--fault SPEC] [--junit F] [--out D] [--report HTML] [--tag T] [--exclude-tag T] [--timeout 10m] [--retries N] [--pcap F] <scenarios>...
//! hil sniff --port P [--baud B] [--from board|host] [--count N] [--seconds S] [--pcap F]
//! hil virtual-board [--port P] [--mode lockstep|realtime] [--key HEX] [--board-id N] [--slots N]
//!         [--supply-file F]
//! ```
//! Exit codes: 0 success, 1 a scenario failed (or the board did not answer), 2 bad input,
//! 3 no board of the pool came free within `--pool-wait`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use clap::{Parser, Subcommand};
use firmware_proto::auth::PairingKey;
use hil::faults::Faults;
use hil::hooks::Hooks;
use hil::pcap::Capture;
use hil::pool::{BoardEntry, HardwareMap, Held, TakeError};
use hil::port::Port;
use hil::probe::Sender;
use hil::remote::{BoardLink, Placer, fitting_automat};
use hil::rig::{SharedOperator, TerminalOperator};
use hil::virtual_board::{Clock, Flaw, VirtualBoard, VirtualBoardConfig};
use sim::board_box::BoardClock;
use sim::run::BoardPlacer;
use sim::run::Operator;
use sim::suite::{self, OperatorFactory, PlacerFactory, SuiteArgs, SuiteOptions};
use std::sync::Mutex;

/// The pairing key of test rigs and of `hil virtual-board` unless told otherwise.
const TEST_KEY: &str = "4b41484954455354524947204b4559204b41484954455354524947204b455921";
/// The board id of `hil virtual-board` unless told otherwise.
const TEST_BOARD_ID: u32 = 0x0B00_0001;

#[derive(Parser, Debug)]
#[command(name = "hil", version, about = "Run key automat scenarios against a board on a serial port")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Debug, Clone)]
struct Board {
    /// The board's pairing key, 64 hex digits (default: the test rigs' key).
    #[arg(long, default_value = TEST_KEY, value_parser = parse_key)]
    key: PairingKey,
    /// The board's id.
    #[arg(long, default_value_t = TEST_BOARD_ID, value_parser = parse_u32)]
    board_id: u32,
    /// Slots on the board's carousel.
    #[arg(long, default_value_t = 30)]
    slots: u8,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the serial ports of this machine.
    Ports,
    /// Handshake with a board: identity, versions, capabilities, pairing, latency.
    Probe {
        /// The serial port.
        #[arg(long)]
        port: String,
        /// Baud rate.
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// Check the board's pairing proof against this key (64 hex digits).
        #[arg(long, value_parser = parse_key)]
        key: Option<PairingKey>,
        /// The id the board was paired with (decimal or 0x hex): the proof is checked with it,
        /// and a board that says another id fails (default: the id the board gives).
        #[arg(long, value_parser = parse_u32)]
        board_id: Option<u32>,
        /// Round trips to time.
        #[arg(long, default_value_t = 1000)]
        pings: usize,
    },
    /// Run scenarios with the board on the port in the first automat whose carousel it fits.
    Run(RunArgs),
    /// Decode and print the frames on a line.
    Sniff {
        /// The serial port.
        #[arg(long)]
        port: String,
        /// Baud rate.
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// Stop after this many frames.
        #[arg(long)]
        count: Option<usize>,
        /// Stop after this many seconds.
        #[arg(long)]
        seconds: Option<f64>,
        /// Who is on the other end of the port, sending what is read: it names the messages.
        #[arg(long, value_enum, default_value_t = Sender::Board)]
        from: Sender,
        /// Also write the frames to this pcap file (Wireshark: `hil/wireshark/key_automat.lua`).
        #[arg(long)]
        pcap: Option<PathBuf>,
    },
    /// Run the reference board firmware on a new PTY (its path is printed) or on a port.
    VirtualBoard {
        /// Serve this port instead of a new PTY.
        #[arg(long)]
        port: Option<String>,
        /// The plant link on a port of its own: this one (with `--port`), or a second new PTY
        /// (its path printed on a second line) with `--plant-port new`.
        #[arg(long)]
        plant_port: Option<String>,
        /// Baud rate (with --port).
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// Whose clock the board runs on.
        #[arg(long, value_enum, default_value_t = Clock::Lockstep)]
        mode: Clock,
        /// Take the supply from this file (`on` or `off`, as a power hook writes it) instead of
        /// from the plant's `Power` reports: a relay for tests.
        #[arg(long, value_name = "FILE")]
        supply_file: Option<PathBuf>,
        /// Break one rule on purpose (tests of `hil conformance`).
        #[arg(long, value_enum, hide = true)]
        flaw: Option<Flaw>,
        #[command(flatten)]
        board: Board,
    },
    /// Walk a board through the rules of PROTOCOL.md, one at a time: a pass/fail table with
    /// each rule's section. Needs a lockstep board (capability bit 0) on one port.
    Conformance {
        /// The serial port.
        #[arg(long)]
        port: String,
        /// Baud rate.
        #[arg(long, default_value_t = 115_200)]
        baud: u32,
        /// Cut the board's supply (`sh -c`); with --power-on-cmd the power-cut rule runs.
        #[arg(long, value_name = "CMD")]
        power_off_cmd: Option<String>,
        /// Restore the board's supply (`sh -c`).
        #[arg(long, value_name = "CMD")]
        power_on_cmd: Option<String>,
        /// The board's pairing key, 64 hex digits (default: the test rigs' key).
        #[arg(long, default_value = TEST_KEY, value_parser = parse_key)]
        key: PairingKey,
        /// The id the board was paired with.
        #[arg(long, default_value_t = TEST_BOARD_ID, value_parser = parse_u32)]
        board_id: u32,
    },
}

/// How `hil run` drives the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// The board runs on the harness's clock; idle time is skipped.
    Lockstep,
    /// The board keeps its own clock; simulated time follows the wall clock.
    Realtime,
    /// The board drives real mechanics: plant link off, operator prompts, real time.
    Rig,
}

fn parse_key(s: &str) -> Result<PairingKey, String> {
    let s = s.trim();
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{s:?} is not 64 hex digits"));
    }
    let mut key = [0u8; 32];
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Ok(PairingKey(key))
}

fn parse_u32(s: &str) -> Result<u32, String> {
    match s.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).map_err(|e| format!("{s:?}: {e}")),
        None => s.parse().map_err(|e| format!("{s:?}: {e}")),
    }
}

#[allow(clippy::print_stdout)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Ports => match hil::port::list() {
            Ok(ports) if ports.is_empty() => {
                println!("no serial ports found");
                ExitCode::SUCCESS
            }
            Ok(ports) => {
                for (name, kind) in ports {
                    println!("{name}\t{kind}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(2, format!("cannot list serial ports: {e}")),
        },
        Command::Probe { port, baud, key, board_id, pings } => {
            let mut p = match Port::open(&port, baud) {
                Ok(p) => p,
                Err(e) => return fail(2, format!("{port}: {e}")),
            };
            match hil::probe::probe(&mut p, key.as_ref(), board_id, pings) {
                Ok(r) => {
                    match board_id {
                        Some(id) if id != r.board_id => {
                            println!("board id      {:#010x} (MISMATCH: paired as {id:#010x})", r.board_id);
                        }
                        _ => println!("board id      {:#010x}", r.board_id),
                    }
                    println!("protocol      {}", r.protocol);
                    println!("firmware      {}.{}.{}", r.firmware.major, r.firmware.minor, r.firmware.patch);
                    println!("slots         {}", r.slot_count);
                    println!("capabilities  {:#x}", r.capabilities.0);
                    println!("last counter  {}", r.last_counter);
                    match r.paired {
                        Some(true) => println!("pairing       ok (the board holds the key)"),
                        Some(false) => {
                            println!("pairing       FAILED (the board's proof does not match the key)")
                        }
                        None => println!("pairing       not checked (no --key)"),
                    }
                    println!(
                        "round trip    p50 {} µs, p99 {} µs over {} pings",
                        r.quantile(0.5).as_micros(),
                        r.quantile(0.99).as_micros(),
                        r.round_trips.len()
                    );
                    let mismatch = board_id.is_some_and(|id| id != r.board_id);
                    if r.paired == Some(false) || mismatch { ExitCode::from(1) } else { ExitCode::SUCCESS }
                }
                Err(e) => fail(1, format!("{port}: {e}")),
            }
        }
        Command::Sniff { port, baud, count, seconds, from, pcap } => {
            let mut p = match Port::open(&port, baud) {
                Ok(p) => p,
                Err(e) => return fail(2, format!("{port}: {e}")),
            };
            let until =
                seconds.map(|s| std::time::Instant::now() + std::time::Duration::from_secs_f64(s.max(0.0)));
            let mut capture = match pcap.as_deref().map(Capture::create).transpose() {
                Ok(c) => c,
                Err(e) => return fail(2, e),
            };
            let sniffed =
                hil::probe::sniff(&mut p, from, count, until, capture.as_mut(), |line| println!("{line}"));
            // What was read is kept whatever ended the sniff.
            if let Some(Err(e)) = capture.as_mut().map(Capture::finish) {
                return fail(2, format!("the pcap file: {e}"));
            }
            match sniffed {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => fail(1, format!("{port}: {e}")),
            }
        }
        Command::VirtualBoard { port, plant_port, baud, mode, supply_file, flaw, board } => {
            let cfg = VirtualBoardConfig {
                board_id: board.board_id,
                key: board.key,
                slots: board.slots,
                clock: mode,
            };
            let (mut p, path) = match &port {
                Some(path) => match Port::open(path, baud) {
                    Ok(p) => (p, path.clone()),
                    Err(e) => return fail(2, format!("{path}: {e}")),
                },
                None => match Port::pty() {
                    Ok(pair) => pair,
                    Err(e) => return fail(2, format!("cannot make a PTY: {e}")),
                },
            };
            println!("{path}");
            match plant_port.as_deref() {
                None => {}
                Some("new") => match p.add_pty() {
                    Ok(second) => println!("{second}"),
                    Err(e) => return fail(2, format!("cannot make a second PTY: {e}")),
                },
                Some(second) => {
                    if let Err(e) = p.open_second(second) {
                        return fail(2, format!("{second}: {e}"));
                    }
                }
            }
            let stop = AtomicBool::new(false);
            let mut vb = VirtualBoard::new(cfg).with_flaw(flaw);
            if let Some(f) = supply_file {
                vb = vb.with_supply_file(f);
            }
            match vb.serve(&mut p, &stop) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(1, format!("{path}: {e}")),
            }
        }
        Command::Conformance { port, baud, power_off_cmd, power_on_cmd, key, board_id } => {
            if power_off_cmd.is_some() != power_on_cmd.is_some() {
                return fail(2, "--power-off-cmd and --power-on-cmd go together".into());
            }
            let mut p = match Port::open(&port, baud) {
                Ok(p) => p,
                Err(e) => return fail(2, format!("{port}: {e}")),
            };
            let opts =
                hil::conformance::Options { key, board_id, power_off: power_off_cmd, power_on: power_on_cmd };
            let results = hil::conformance::run(&mut p, opts);
            print!("{}", hil::conformance::table(&results));
            let failed = results.iter().any(|r| matches!(r.verdict, hil::conformance::Verdict::Fail(_)));
            if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
        }
        Command::Run(args) => run(args),
    }
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Scenario files, or directories searched for `*.ron`.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The serial port.
    #[arg(long, required_unless_present = "pool", conflicts_with = "pool")]
    port: Option<String>,
    /// A hardware map (RON) of a rig's boards: take a free board from it (see hil/TESTING.md).
    #[arg(long, value_name = "FILE")]
    pool: Option<PathBuf>,
    /// With `--pool`: this board of the map, not any free one.
    #[arg(long = "board", value_name = "NAME", requires = "pool")]
    board_name: Option<String>,
    /// With `--pool`: how long to wait for a board to come free before giving up (exit 3).
    #[arg(long, value_parser = suite::parse_duration, default_value = "10m", requires = "pool")]
    pool_wait: std::time::Duration,
    /// Baud rate.
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// Lockstep (the harness's clock), realtime (the board's), or rig (the board drives
    /// real mechanics: plant link off, a person does the users' steps when prompted).
    #[arg(long, value_enum, default_value_t = Mode::Lockstep)]
    mode: Mode,
    /// A port of its own for the plant link (default: both links on `--port`).
    #[arg(long)]
    plant_port: Option<String>,
    /// Line faults between harness and board, e.g. `drop=1%,corrupt=0.5%,delay=5ms`.
    #[arg(long, default_value = "")]
    fault: Faults,
    /// Run a failed scenario again up to N times: a pass after a failure is reported FLAKY
    /// (table, JUnit, report), never as a plain pass. For boards only: `sim run` has no retries.
    #[arg(long, default_value_t = 0, value_name = "N")]
    retries: u32,
    /// A shell command that cuts the board's supply, run for a scenario's `PowerCut` (with
    /// `--power-on-cmd`; a pool's map gives them per board). In rig mode power steps then run
    /// instead of being skipped.
    #[arg(long, value_name = "CMD", requires = "power_on_cmd")]
    power_off_cmd: Option<String>,
    /// A shell command that restores the board's supply, run for `PowerRestore`.
    #[arg(long, value_name = "CMD", requires = "power_off_cmd")]
    power_on_cmd: Option<String>,
    /// A shell command run before each scenario (reset or flash the board).
    #[arg(long, value_name = "CMD")]
    reset_cmd: Option<String>,
    /// Write every frame on the line, both ways, to this pcap file (Wireshark:
    /// `hil/wireshark/key_automat.lua`).
    #[arg(long)]
    pcap: Option<PathBuf>,
    #[command(flatten)]
    board: Board,
    #[command(flatten)]
    suite: SuiteArgs,
}

/// The board a run drives: given by flags, or taken from a pool (and held while it runs).
struct Target {
    port: String,
    plant_port: Option<String>,
    board_id: u32,
    key: PairingKey,
    slots: u8,
    hooks: Hooks,
    held: Option<Held>,
}

/// Why no target: bad input (exit 2), or every board busy (exit 3).
enum NoTarget {
    Bad(String),
    Busy(String),
}

fn target(args: &RunArgs, scenarios: &[(PathBuf, sim::scenario::Scenario)]) -> Result<Target, NoTarget> {
    let Some(pool) = &args.pool else {
        return Ok(Target {
            port: args.port.clone().unwrap_or_default(),
            plant_port: args.plant_port.clone(),
            board_id: args.board.board_id,
            key: args.board.key.clone(),
            slots: args.board.slots,
            hooks: flag_hooks(args),
            held: None,
        });
    };
    let map = HardwareMap::load(pool).map_err(NoTarget::Bad)?;
    let fits =
        |b: &BoardEntry| scenarios.iter().any(|(_, s)| fitting_automat(&s.automats, b.slots).is_some());
    let held = match hil::pool::take(&map, args.board_name.as_deref(), fits, args.pool_wait) {
        Ok(h) => h,
        Err(TakeError::Bad(e)) => return Err(NoTarget::Bad(format!("{}: {e}", pool.display()))),
        Err(TakeError::Busy(e)) => return Err(NoTarget::Busy(e)),
    };
    let b = &held.board;
    let bad = |e: String| NoTarget::Bad(format!("{}: board {}: {e}", pool.display(), b.name));
    let key = b.key.as_deref().map_or(Ok(args.board.key.clone()), parse_key).map_err(bad)?;
    let board_id = b.board_id.as_deref().map_or(Ok(TEST_BOARD_ID), parse_u32).map_err(bad)?;
    let port = b.resolve_port().map_err(NoTarget::Bad)?;
    eprintln!("hil: board {} on {port} ({} slots), held until this run ends", b.name, b.slots);
    // The map's hooks for this board, else the flags'.
    let flags = flag_hooks(args);
    let hooks = Hooks {
        power_off: b.power_off.clone().or(flags.power_off),
        power_on: b.power_on.clone().or(flags.power_on),
        reset: b.reset.clone().or(flags.reset),
    };
    let (board_id, key, slots, plant_port) = (board_id, key, b.slots, b.plant_port.clone());
    Ok(Target { port, plant_port, board_id, key, slots, hooks, held: Some(held) })
}

fn flag_hooks(args: &RunArgs) -> Hooks {
    Hooks {
        power_off: args.power_off_cmd.clone(),
        power_on: args.power_on_cmd.clone(),
        reset: args.reset_cmd.clone(),
    }
}

#[allow(clippy::print_stdout)]
fn run(args: RunArgs) -> ExitCode {
    let all = match suite::load(&args.paths) {
        Ok(all) => all,
        Err(errors) => {
            for e in errors {
                eprintln!("{:?}", miette::Report::new(e));
            }
            return ExitCode::from(2);
        }
    };
    let capture = match args.pcap.as_deref().map(Capture::create).transpose() {
        Ok(c) => c.map(|c| Arc::new(Mutex::new(c))),
        Err(e) => return fail(2, e),
    };
    let clock = match args.mode {
        Mode::Lockstep => BoardClock::Lockstep,
        Mode::Realtime | Mode::Rig => BoardClock::Realtime,
    };
    let rig = args.mode == Mode::Rig;
    let operators = rig.then(|| {
        // One person at one terminal, asked step by step through every scenario.
        let person = Arc::new(Mutex::new(TerminalOperator::new()));
        OperatorFactory(Arc::new(move || Box::new(SharedOperator(person.clone())) as Box<dyn Operator>))
    });
    let mut opts = args.suite.options(SuiteOptions {
        jobs: 1,
        timeout_after_duration: clock == BoardClock::Realtime,
        progress: !rig,
        retries: args.retries,
        operators,
        ..Default::default()
    });
    // The board fits some scenarios only: the rest are left out like a tag leaves them out, after
    // the same selection (so a tag is known by every loaded scenario, fitting or not).
    let mut selection = match suite::select(all, &opts) {
        Ok(s) => s,
        Err(e) => return fail(2, e),
    };
    let target = match target(&args, &selection.run) {
        Ok(t) => t,
        Err(NoTarget::Bad(e)) => return fail(2, e),
        Err(NoTarget::Busy(why)) => {
            // Nothing ran, and the reports say so.
            let reason = why.clone();
            selection.not_run.extend(selection.run.drain(..).map(|(file, s)| suite::NotRun {
                file,
                name: s.name,
                reason: reason.clone(),
            }));
            for e in suite::write_reports(&[], &selection.not_run, opts.out.as_deref(), args.suite.reports())
            {
                eprintln!("error: {e}");
            }
            return fail(3, why);
        }
    };
    let slots = target.slots;
    let link = BoardLink {
        port: target.port.clone(),
        baud: args.baud,
        clock,
        faults: args.fault,
        board_id: target.board_id,
        key: target.key.clone(),
        slots,
        plant: !rig,
        plant_port: target.plant_port.clone(),
        capture: capture.clone(),
        hooks: target.hooks.clone(),
    };
    opts.boards =
        Some(PlacerFactory(Arc::new(move || Box::new(Placer::new(link.clone())) as Box<dyn BoardPlacer>)));
    let reason = format!("no automat with {slots} slots, as the board has");
    let (fits, misfits): (Vec<_>, Vec<_>) =
        selection.run.into_iter().partition(|(_, s)| fitting_automat(&s.automats, slots).is_some());
    selection.run = fits;
    selection.not_run.extend(misfits.into_iter().map(|(file, s)| suite::NotRun {
        file,
        name: s.name,
        reason: reason.clone(),
    }));
    if let Err(e) = suite::start_cameras(&selection.run, &opts) {
        return fail(2, e);
    }
    let results = suite::run(&selection.run, &opts);
    drop(target.held); // the board is free for the next job
    print!("{}", suite::table(&results, &selection.not_run));
    let mut errors =
        suite::write_reports(&results, &selection.not_run, opts.out.as_deref(), args.suite.reports());
    if let Some(c) = &capture {
        match c.lock().map_err(|_| "poisoned".to_string()).and_then(|mut c| c.finish()) {
            Ok(_) => {}
            Err(e) => errors.push(format!("the pcap file: {e}")),
        }
    }
    for e in &errors {
        eprintln!("error: {e}");
    }
    if selection.run.is_empty() {
        return fail(2, "no scenario fits the board, the filter and the tags".into());
    }
    if !errors.is_empty() {
        return ExitCode::from(2);
    }
    if results.iter().all(|r| r.outcome.passed) { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn fail(code: u8, message: String) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}
