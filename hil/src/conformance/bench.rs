//! The conformance suite's test bench: one harness run against the board (a [`Session`]: a
//! host-link end, a plant-link end and a lockstep clock, on fresh stream ids) and a scripted
//! carousel behind the plant link ([`Mech`]) that answers the board the way PROTOCOL.md §8.1
//! says a plant does.

use std::collections::VecDeque;
use std::time::{Duration, Instant as Wall};

use firmware_proto::Instant;
use firmware_proto::frame::Channel;
use firmware_proto::host::{BoardToHost, HostToBoard};
use firmware_proto::link::{Event as LinkEvent, Link, LinkConfig};
use firmware_proto::message::{Decoded, decode};
use firmware_proto::motion::Trapezoid;
use firmware_proto::plant::{BoardToPlant, PlantToBoard};

use crate::port::Port;

/// How long the board may take to answer a clock message, in wall time.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// Encoder counts between slots: the simulator's geometry, which `hil run` drives boards with.
pub const COUNTS_PER_SLOT: i32 = sim::run::COUNTS_PER_SLOT as i32;
/// Where the scripted carousel's encoder stands when the board first reads it.
pub const START_ENCODER: i32 = 1234;
/// Where the home sensor's active zone starts (and every revolution from there).
pub const HOME_AT: i32 = 3000;
/// The zone's width in counts.
const HOME_ZONE: i32 = 40;

/// A message from the board, and on which link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Got {
    /// On the host link.
    Host(BoardToHost),
    /// On the plant link (`ClockAck` included).
    Plant(BoardToPlant),
}

/// A move the scripted carousel is making.
#[derive(Clone, Debug)]
struct Move {
    start: Instant,
    from: i32,
    profile: Trapezoid,
}

/// The scripted carousel: it moves as commanded (trapezoid, §8.2), reports home-sensor edges on
/// the way, `Occupancy` then `MoveDone` at rest, and answers `ReadSensors` and `ReadTag`.
#[derive(Debug)]
pub struct Mech {
    /// Counts per revolution (the board's slot count × [`COUNTS_PER_SLOT`]).
    pub rev: i32,
    /// The encoder, at rest.
    pub encoder: i32,
    /// The occupancy sensor.
    pub occupied: bool,
    /// `ReadSensors` goes unanswered (a board still booting).
    pub hold_sensors: bool,
    /// The next move ends this many counts short of its target (a stall), then 0 again.
    pub short_next: i32,
    moving: Option<Move>,
    /// Reports due at once.
    now: Vec<PlantToBoard>,
    /// Reports due later, in time order.
    later: VecDeque<(Instant, PlantToBoard)>,
    /// Every command the board sent the plant, with its time (`ClockAck` aside).
    pub log: Vec<(Instant, BoardToPlant)>,
}

impl Mech {
    /// A carousel of `slots` slots at rest at [`START_ENCODER`].
    pub fn new(slots: u8) -> Self {
        Mech {
            rev: i32::from(slots.max(1)) * COUNTS_PER_SLOT,
            encoder: START_ENCODER,
            occupied: true,
            hold_sensors: false,
            short_next: 0,
            moving: None,
            now: Vec::new(),
            later: VecDeque::new(),
            log: Vec::new(),
        }
    }

    fn sensors(&self) -> PlantToBoard {
        PlantToBoard::Sensors {
            encoder: self.encoder,
            home: self.in_zone(self.encoder),
            door_open: false,
            occupied: self.occupied,
            tamper: false,
            mains: true,
            battery_mv: 13_200,
        }
    }

    fn in_zone(&self, x: i32) -> bool {
        (x - HOME_AT).rem_euclid(self.rev) < HOME_ZONE
    }

    /// The board sent `m` at `now`.
    fn command(&mut self, now: Instant, m: BoardToPlant) {
        self.log.push((now, m.clone()));
        match m {
            BoardToPlant::ReadSensors if !self.hold_sensors => self.now.push(self.sensors()),
            BoardToPlant::ReadTag => self.now.push(PlantToBoard::TagResult { tag: None }),
            BoardToPlant::MotorMove { target, max_velocity, acceleration } if self.moving.is_none() => {
                let end =
                    if target > self.encoder { target - self.short_next } else { target + self.short_next };
                self.short_next = 0;
                let profile = Trapezoid::new(i64::from(end - self.encoder), max_velocity, acceleration);
                for (distance, active, x) in self.edges(self.encoder, end) {
                    let t = profile.time_to(f64::from(distance)).unwrap_or(0.0);
                    self.later
                        .push_back((at_seconds(now, t), PlantToBoard::HomeSensor { active, encoder: x }));
                }
                let done = now + profile.duration();
                self.later.push_back((done, PlantToBoard::Occupancy { occupied: self.occupied }));
                self.later.push_back((done, PlantToBoard::MoveDone { encoder: end }));
                self.later.make_contiguous().sort_by_key(|(t, _)| *t);
                self.moving = Some(Move { start: now, from: self.encoder, profile });
            }
            BoardToPlant::MotorStop => {
                if let Some(m) = self.moving.take() {
                    let t = (now - m.start).as_secs_f64();
                    self.encoder = m.from + m.profile.travelled(t).round() as i32;
                    self.later.clear();
                    self.now.push(PlantToBoard::Occupancy { occupied: self.occupied });
                    self.now.push(PlantToBoard::MoveDone { encoder: self.encoder });
                }
            }
            _ => {}
        }
    }

    /// The home-sensor edges crossed going from `a` to `b`, in order: (distance, entering, at).
    fn edges(&self, a: i32, b: i32) -> Vec<(i32, bool, i32)> {
        let (lo, hi) = (a.min(b), a.max(b));
        let mut out = Vec::new();
        let first = (lo - HOME_AT).div_euclid(self.rev) - 1;
        let last = (hi - HOME_AT).div_euclid(self.rev) + 1;
        for k in first..=last {
            let start = HOME_AT + k * self.rev;
            for (x, is_start) in [(start, true), (start + HOME_ZONE, false)] {
                let crossed = if b > a { x > a && x <= b } else { x < a && x >= b };
                if crossed {
                    // Going forward the zone is entered at its start; backward, at its end.
                    out.push(((x - a).abs(), is_start == (b > a), x));
                }
            }
        }
        out.sort_unstable();
        out
    }

    /// When the next report falls due.
    fn next_due(&self) -> Option<Instant> {
        self.later.front().map(|(t, _)| *t)
    }

    /// The reports due at `now`, in order.
    fn due(&mut self, now: Instant) -> Vec<PlantToBoard> {
        let mut out = std::mem::take(&mut self.now);
        while let Some((t, _)) = self.later.front()
            && *t <= now
        {
            let Some((_, m)) = self.later.pop_front() else { break };
            if let PlantToBoard::MoveDone { encoder } = m {
                self.encoder = encoder;
                self.moving = None;
            }
            out.push(m);
        }
        out
    }
}

fn at_seconds(start: Instant, s: f64) -> Instant {
    start + Duration::from_micros((s * 1e6).ceil() as u64)
}

/// One harness run: fresh link ends, a clock the board follows, the scripted carousel.
pub struct Session<'p> {
    port: &'p mut Port,
    host: Link,
    plant: Link,
    /// The harness's time, which the board's follows.
    pub now: Instant,
    /// What arrived, with the harness time it arrived at, not yet taken.
    got: Vec<(Instant, Got)>,
    /// Every `ClockAck`: (echoed time, next deadline).
    pub acks: Vec<(u64, Option<u64>)>,
    /// Host-link frames are read (off: the harness's host end is deaf, as a sniffer would be).
    pub hear_host: bool,
    /// The carousel behind the plant link.
    pub mech: Mech,
    /// Clock messages sent.
    pub ticks: u64,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session(at {}, {} acks)", self.now, self.acks.len())
    }
}

impl<'p> Session<'p> {
    /// A harness run on streams `host` and `plant`, whose first message, `ClockJump{at}`, makes
    /// the board start a new run (§8.3); answered before this returns.
    pub fn start(
        port: &'p mut Port,
        streams: (u8, u8),
        at: Instant,
        mech: Mech,
        hear_host: bool,
        first: Option<PlantToBoard>,
    ) -> Result<Self, String> {
        let mut s = Session {
            port,
            host: Link::new(LinkConfig::new(Channel::Host, streams.0), at),
            plant: Link::new(LinkConfig::new(Channel::Plant, streams.1), at),
            now: at,
            got: Vec::new(),
            acks: Vec::new(),
            hear_host,
            mech,
            ticks: 0,
        };
        if let Some(m) = first {
            s.plant.send_message(at, &m).map_err(|e| format!("cannot send {m:?}: {e}"))?;
        }
        s.clock(true)?;
        Ok(s)
    }

    /// Everything that arrived since the last call.
    pub fn take(&mut self) -> Vec<(Instant, Got)> {
        std::mem::take(&mut self.got)
    }

    /// What arrived and was not taken yet.
    pub fn pending(&self) -> &[(Instant, Got)] {
        &self.got
    }

    /// Sends a host command and lets the board handle it (a tick at the same time follows it).
    pub fn host(&mut self, m: &HostToBoard) -> Result<(), String> {
        self.host.send_message(self.now, m).map_err(|e| format!("cannot send {m:?}: {e}"))?;
        self.flush()?;
        self.clock(false)
    }

    /// Sends a plant report and lets the board handle it.
    pub fn plant(&mut self, m: &PlantToBoard) -> Result<(), String> {
        self.plant.send_message(self.now, m).map_err(|e| format!("cannot send {m:?}: {e}"))?;
        self.flush()?;
        self.clock(false)
    }

    /// Advances to `to`, ticking at every deadline the board names and at every plant report's
    /// time (§8.3: no deadline is passed without a tick at it).
    pub fn advance(&mut self, to: Instant) -> Result<(), String> {
        for _ in 0..100_000 {
            let board = self.acks.last().and_then(|(_, d)| *d).map(Instant::from_micros);
            let next =
                [board, self.mech.next_due(), Some(to)].into_iter().flatten().filter(|t| *t > self.now).min();
            let Some(next) = next else { return Ok(()) };
            self.now = next;
            self.clock(true)?;
            if next >= to {
                return Ok(());
            }
        }
        Err(format!("the clock did not reach {to}: the board names deadlines that never move on"))
    }

    /// Advances in deadline steps until `want` holds for something that arrived, or `within`.
    pub fn until(&mut self, within: Duration, want: impl Fn(&Got) -> bool) -> Result<(), String> {
        let (start, end) = (self.now, self.now + within);
        while !self.got.iter().any(|(_, g)| want(g)) {
            if self.now >= end {
                return Err(format!("not within {} ms of {start}", within.as_millis()));
            }
            let board = self.acks.last().and_then(|(_, d)| *d).map(Instant::from_micros);
            let next = [board, self.mech.next_due(), Some(end)]
                .into_iter()
                .flatten()
                .filter(|t| *t > self.now)
                .min();
            self.now = next.unwrap_or(end);
            self.clock(true)?;
        }
        Ok(())
    }

    /// Sends `ClockJump{now}` (`jump`) or `ClockTick{now}`, waits for its `ClockAck`, then sends
    /// the carousel's reports due now followed by a tick, until none is left.
    fn clock(&mut self, jump: bool) -> Result<(), String> {
        let mut jump = jump;
        loop {
            let t = self.now.as_micros();
            let m = if jump {
                PlantToBoard::ClockJump { now_us: t }
            } else {
                PlantToBoard::ClockTick { now_us: t }
            };
            jump = false;
            for link in [&mut self.host, &mut self.plant] {
                if link.poll_timeout().is_some_and(|d| d <= self.now) {
                    link.handle_timeout(self.now);
                }
            }
            self.plant.send_message(self.now, &m).map_err(|e| format!("cannot send {m:?}: {e}"))?;
            self.ticks += 1;
            self.flush()?;
            self.wait_ack(t)?;
            let due = self.mech.due(self.now);
            if due.is_empty() {
                return Ok(());
            }
            for r in &due {
                self.plant.send_message(self.now, r).map_err(|e| format!("cannot send {r:?}: {e}"))?;
            }
        }
    }

    fn wait_ack(&mut self, t: u64) -> Result<(), String> {
        let before = self.acks.len();
        let give_up = Wall::now() + ANSWER_WITHIN;
        let mut quiet_since = Wall::now();
        while !self.acks[before..].iter().any(|(now, _)| *now == t) {
            let left = give_up.saturating_duration_since(Wall::now());
            if left.is_zero() {
                return Err(format!(
                    "no ClockAck for {} within {} s of wall time",
                    Instant::from_micros(t),
                    ANSWER_WITHIN.as_secs()
                ));
            }
            let step = Wall::now() + left.min(Duration::from_millis(20));
            if self.pump(step)? {
                quiet_since = Wall::now();
            } else if quiet_since.elapsed() > Duration::from_millis(100) {
                // The clock stands still, so the timers cannot fire: resend by hand.
                self.host.resend_unacked();
                self.plant.resend_unacked();
                self.flush()?;
                quiet_since = Wall::now();
            }
        }
        Ok(())
    }

    /// Reads what arrives until `until`; whether anything did.
    fn pump(&mut self, until: Wall) -> Result<bool, String> {
        let Some((_, bytes)) =
            self.port.read_any(Some(until)).map_err(|e| format!("reading the port: {e}"))?
        else {
            return Ok(false);
        };
        let now = self.now;
        self.plant.handle_bytes(now, &bytes);
        if self.hear_host {
            self.host.handle_bytes(now, &bytes);
        }
        while let Some(e) = self.host.poll_event() {
            if let LinkEvent::Message(p) = e
                && let Ok(Decoded::Known(m)) = decode::<BoardToHost>(&p)
            {
                self.got.push((now, Got::Host(m)));
            }
        }
        while let Some(e) = self.plant.poll_event() {
            if let LinkEvent::Message(p) = e
                && let Ok(Decoded::Known(m)) = decode::<BoardToPlant>(&p)
            {
                if let BoardToPlant::ClockAck { now_us, next_deadline_us } = m {
                    self.acks.push((now_us, next_deadline_us));
                } else {
                    self.mech.command(now, m.clone());
                }
                self.got.push((now, Got::Plant(m)));
            }
        }
        self.flush()?;
        Ok(true)
    }

    /// Listens for `wall` without moving the clock: how many valid frames arrived.
    pub fn listen(&mut self, wall: Duration) -> Result<u64, String> {
        let frames = |s: &Self| s.host.stats().frames_received + s.plant.stats().frames_received;
        let before = frames(self);
        let end = Wall::now() + wall;
        while Wall::now() < end {
            self.pump(end)?;
        }
        Ok(frames(self) - before)
    }

    /// Sets the clock to `t`, earlier or later, with a `ClockJump`.
    pub fn jump_to(&mut self, t: Instant) -> Result<(), String> {
        self.now = t;
        self.clock(true)
    }

    /// Moves the clock on by `by` with a `ClockTick` and does not wait for an answer (to a
    /// board that should give none).
    pub fn advance_unanswered(&mut self, by: Duration) -> Result<(), String> {
        self.now += by;
        let m = PlantToBoard::ClockTick { now_us: self.now.as_micros() };
        self.plant.send_message(self.now, &m).map_err(|e| format!("cannot send {m:?}: {e}"))?;
        self.flush()
    }

    fn flush(&mut self) -> Result<(), String> {
        while let Some(bytes) = self.host.poll_transmit() {
            self.port.write(bytes).map_err(|e| format!("writing the port: {e}"))?;
        }
        while let Some(bytes) = self.plant.poll_transmit() {
            self.port.write_second(bytes).map_err(|e| format!("writing the port: {e}"))?;
        }
        Ok(())
    }
}
