//! The rules, each a harness run of its own against a freshly restarted board.

use std::time::Duration;

use firmware_proto::Instant;
use firmware_proto::auth::CommandSigner;
use firmware_proto::host::{BoardToHost, HostToBoard};
use firmware_proto::message::Message;
use firmware_proto::plant::{BoardToPlant, PlantToBoard};
use firmware_proto::types::{Capabilities, PowerEvent, Rejection, SecuredCommand, TamperSource};

use super::bench::{COUNTS_PER_SLOT, Got, HOME_AT, START_ENCODER, Session};
use super::{Bench, Check, Miss, at, ensure, hello, list};

/// A rule of the suite.
pub(super) struct Rule {
    pub(super) name: &'static str,
    pub(super) section: &'static str,
    pub(super) check: fn(&mut Bench<'_>) -> Check,
}

/// Every rule, in the order they run.
pub(super) const ALL: &[Rule] = &[
    Rule { name: "handshake: hello, board id, pairing proof", section: "§5 §6.5", check: handshake },
    Rule { name: "boot messages", section: "§7.2", check: boot },
    Rule { name: "homing", section: "§7.4", check: homing },
    Rule { name: "a new peer stream gets what is in flight", section: "§4.3", check: new_stream },
    Rule { name: "busy while booting, counter used up", section: "§7.2 §7.3", check: busy_booting },
    Rule { name: "MAC refusal", section: "§6.3", check: mac_refusal },
    Rule { name: "replay refusal", section: "§6.3", check: replay_refusal },
    Rule { name: "shortest-way positioning", section: "§7.5", check: shortest_way },
    Rule { name: "stall: re-home and retry", section: "§7.7", check: stall_recovery },
    Rule { name: "unlock window", section: "§7.6", check: unlock_window },
    Rule { name: "heartbeat, timers due together", section: "§7.3 §7.8", check: timers },
    Rule { name: "power reports", section: "§7.8", check: power_reports },
    Rule { name: "lockstep clock and deadlines", section: "§8.3", check: lockstep_clock },
    Rule { name: "lockstep start and restart", section: "§8.3", check: restart },
    Rule { name: "power off and on", section: "§7.8 §8.3", check: power_cut },
];

fn host_msgs(got: &[(Instant, Got)]) -> Vec<(Instant, BoardToHost)> {
    got.iter().filter_map(|(t, g)| if let Got::Host(m) = g { Some((*t, m.clone())) } else { None }).collect()
}

fn plant_cmds(got: &[(Instant, Got)]) -> Vec<BoardToPlant> {
    got.iter()
        .filter_map(|(_, g)| match g {
            Got::Plant(BoardToPlant::ClockAck { .. }) => None,
            Got::Plant(m) => Some(m.clone()),
            Got::Host(_) => None,
        })
        .collect()
}

fn host_has(got: &[(Instant, Got)], want: &BoardToHost) -> bool {
    got.iter().any(|(_, g)| *g == Got::Host(want.clone()))
}

/// A session at `t`, handshaken, homed: the session and the origin (slot 0's encoder count).
fn homed<'b>(b: &'b mut Bench<'_>, t: Instant) -> Result<(Session<'b>, &'b mut CommandSigner, i32), Miss> {
    let (mut s, signer) = b.open(t, true, false)?;
    hello(&mut s, signer)?;
    s.until(Duration::from_secs(30), |g| matches!(g, Got::Host(BoardToHost::Homed { .. })))
        .map_err(|e| format!("the board did not home: {e}"))?;
    let origin = s.mech.log.iter().rev().find_map(|(_, m)| match m {
        BoardToPlant::MotorMove { target, .. } => Some(*target),
        _ => None,
    });
    s.advance(s.now + Duration::from_millis(100))?;
    s.take();
    Ok((s, signer, origin.unwrap_or(HOME_AT)))
}

fn handshake(b: &mut Bench<'_>) -> Check {
    let id = b.opts.board_id;
    let (mut s, signer) = b.open(at(0.0), true, false)?;
    let (h, _) = hello(&mut s, signer)?;
    drop(s);
    b.slots = h.slots.max(1);
    ensure(h.protocol == 1, || format!("the hello says protocol {}, not 1", h.protocol))?;
    ensure(h.board_id == id, || {
        format!("the board says it is {:#010x}; it was paired as {id:#010x}", h.board_id)
    })?;
    ensure(h.proof_ok, || "the pairing proof does not match the key and board id".into())?;
    ensure(h.capabilities & Capabilities::LOCKSTEP_CLOCK != 0, || {
        format!("capability bit 0 (LOCKSTEP_CLOCK) is not set ({:#x}): the suite needs it", h.capabilities)
    })
}

fn boot(b: &mut Bench<'_>) -> Check {
    let (mut s, _) = b.open(at(0.0), true, true)?;
    let got = s.take();
    let host = host_msgs(&got);
    ensure(matches!(host.first(), Some((_, BoardToHost::Booted { .. }))), || {
        format!("the first host message of a new run is not Booted: {}", list(&got))
    })?;
    let plant = plant_cmds(&got);
    ensure(
        plant.len() >= 2
            && plant[0] == BoardToPlant::LockCoil { energised: false }
            && plant[1] == BoardToPlant::ReadSensors,
        || {
            format!(
                "the plant link does not start with LockCoil {{ energised: false }}, ReadSensors: {}",
                list(&got)
            )
        },
    )?;
    // Until the sensors answer, the board must not move.
    s.advance(s.now + Duration::from_secs(1))?;
    let got = s.take();
    ensure(!plant_cmds(&got).iter().any(|m| matches!(m, BoardToPlant::MotorMove { .. })), || {
        format!("the board moved before its first Sensors report: {}", list(&got))
    })
}

fn homing(b: &mut Bench<'_>) -> Check {
    let (mut s, _) = b.open(at(0.0), true, false)?;
    s.until(Duration::from_secs(30), |g| matches!(g, Got::Host(BoardToHost::Homed { .. })))
        .map_err(|e| format!("no Homed: {e}"))?;
    let got = s.take();
    let moves: Vec<_> =
        s.mech.log.iter().map(|(_, m)| m.clone()).filter(|m| *m != BoardToPlant::ReadSensors).collect();
    let search = moves
        .iter()
        .find_map(|m| if let BoardToPlant::MotorMove { target, .. } = m { Some(*target) } else { None });
    ensure(search.is_some_and(|t| t > START_ENCODER), || {
        format!("the search is not a forward move from the encoder {START_ENCODER}: {moves:?}")
    })?;
    let stop = moves.iter().position(|m| *m == BoardToPlant::MotorStop);
    let back = stop.and_then(|i| moves.get(i + 1));
    ensure(matches!(back, Some(BoardToPlant::MotorMove { target: HOME_AT, .. })), || {
        format!("after the rising edge at {HOME_AT} the board should stop and return to it: {moves:?}")
    })?;
    ensure(host_has(&got, &BoardToHost::Homed { slot: 0 }), || format!("Homed is not slot 0: {}", list(&got)))
}

fn new_stream(b: &mut Bench<'_>) -> Check {
    // The harness's host end missed the boot frames (a sniffer read them) and acknowledges
    // nothing: the board's clock stands still, so only §4.3 brings Booted again.
    let (mut s, signer) = b.open(at(0.0), false, true)?;
    s.hear_host = true;
    let (_, got) = hello(&mut s, signer)?;
    let host = host_msgs(&got);
    ensure(matches!(host.first(), Some((_, BoardToHost::Booted { .. }))), || {
        format!("Booted did not come again before the Hello: {}", list(&got))
    })?;
    ensure(host.iter().all(|(t, _)| *t == at(0.0)), || {
        format!("Booted and Hello should come at once, with the clock standing at 0: {}", list(&got))
    })
}

fn rejected(got: &[(Instant, Got)], m: &HostToBoard, reason: Rejection) -> Check {
    let want = BoardToHost::Rejected { command: m.kind(), reason };
    ensure(host_has(got, &want), || format!("{m:?} was not answered {want:?}: {}", list(got)))
}

fn busy_booting(b: &mut Bench<'_>) -> Check {
    let (mut s, signer) = b.open(at(0.0), true, true)?;
    hello(&mut s, signer)?;
    // Out-of-range arguments too: Busy comes before BadSlot and BadArgument.
    for m in [signer.present_slot(255), signer.unlock_door(0), HostToBoard::Home] {
        s.host(&m)?;
        rejected(&s.take(), &m, Rejection::Busy)?;
    }
    let used = signer.counter();
    let (h, _) = hello(&mut s, signer)?;
    ensure(h.last_counter == used, || {
        format!(
            "the refused commands' counters were not used up: last_counter {} after {used}",
            h.last_counter
        )
    })
}

fn mac_refusal(b: &mut Bench<'_>) -> Check {
    let (mut s, signer, _) = homed(b, at(0.0))?;
    let (before, _) = hello(&mut s, signer)?;
    let mut m = signer.present_slot(3);
    let counter = signer.counter();
    if let HostToBoard::PresentSlot { auth, .. } = &mut m {
        auth.mac[0] ^= 0x01;
    }
    s.host(&m)?;
    s.advance(s.now + Duration::from_secs(1))?;
    let got = s.take();
    let want = BoardToHost::Tamper {
        source: TamperSource::BadMac { command: SecuredCommand::PresentSlot, counter },
    };
    ensure(host_has(&got, &want), || {
        format!("a forged PresentSlot was not reported {want:?}: {}", list(&got))
    })?;
    ensure(!plant_cmds(&got).iter().any(|p| matches!(p, BoardToPlant::MotorMove { .. })), || {
        format!("the carousel turned for a forged command: {}", list(&got))
    })?;
    let (after, _) = hello(&mut s, signer)?;
    ensure(after.last_counter == before.last_counter, || {
        format!("a forged counter moved last_counter from {} to {}", before.last_counter, after.last_counter)
    })
}

fn replay_refusal(b: &mut Bench<'_>) -> Check {
    let (key, id) = (b.opts.key.clone(), b.opts.board_id);
    let (mut s, signer, _) = homed(b, at(0.0))?;
    let m = signer.unlock_door(2_000);
    let c = signer.counter();
    s.host(&m)?;
    let got = s.take();
    ensure(host_has(&got, &BoardToHost::DoorUnlocked { window_ms: 2_000 }), || {
        format!("a fresh UnlockDoor was not answered DoorUnlocked: {}", list(&got))
    })?;
    s.host(&HostToBoard::LockDoor)?;
    let older = CommandSigner::new(key, id, c.saturating_sub(2)).unlock_door(2_000);
    for (again, counter) in [(m, c), (older, c.saturating_sub(1))] {
        s.host(&again)?;
        let got = s.take();
        let want = BoardToHost::Tamper {
            source: TamperSource::Replay { command: SecuredCommand::UnlockDoor, counter },
        };
        ensure(host_has(&got, &want), || {
            format!("counter {counter} after {c}: not {want:?}: {}", list(&got))
        })?;
        ensure(
            !got.iter().any(|(_, g)| *g == Got::Plant(BoardToPlant::LockCoil { energised: true })),
            || format!("the latch was released for a replay: {}", list(&got)),
        )?;
    }
    Ok(())
}

/// Presents `slot`: the target of the positioning move, once `SlotPresented` came.
fn present(s: &mut Session<'_>, signer: &mut CommandSigner, slot: u8) -> Result<i32, Miss> {
    let from = s.mech.log.len();
    s.host(&signer.present_slot(slot))?;
    s.until(
        Duration::from_secs(30),
        |g| matches!(g, Got::Host(BoardToHost::SlotPresented { slot: k, .. }) if *k == slot),
    )
    .map_err(|e| format!("no SlotPresented {{ slot: {slot} }}: {e}"))?;
    s.take();
    let target = s.mech.log[from..].iter().rev().find_map(|(_, m)| match m {
        BoardToPlant::MotorMove { target, .. } => Some(*target),
        _ => None,
    });
    Ok(target.ok_or_else(|| format!("slot {slot} was presented without a move"))?)
}

fn shortest_way(b: &mut Bench<'_>) -> Check {
    let n = b.slots;
    let rev = i32::from(n) * COUNTS_PER_SLOT;
    let (mut s, signer, origin) = homed(b, at(0.0))?;
    let k1 = n.saturating_sub(2);
    let t1 = present(&mut s, signer, k1)?;
    ensure(t1 < origin && (t1 - origin).rem_euclid(rev) == i32::from(k1) * COUNTS_PER_SLOT, || {
        format!("slot {k1} of {n} from slot 0 (at {origin}) is 2 slots back; the board moved to {t1}")
    })?;
    if n.is_multiple_of(2) && n >= 4 {
        let k2 = (k1 + n / 2) % n;
        let t2 = present(&mut s, signer, k2)?;
        ensure(t2 - t1 == i32::from(n / 2) * COUNTS_PER_SLOT, || {
            format!(
                "slot {k2} from slot {k1} is half a turn (a tie, forward); the board moved from {t1} to {t2}"
            )
        })?;
    }
    Ok(())
}

fn stall_recovery(b: &mut Bench<'_>) -> Check {
    let (mut s, signer, _) = homed(b, at(0.0))?;
    s.mech.short_next = 300;
    s.host(&signer.present_slot(4))?;
    s.until(Duration::from_secs(60), |g| {
        matches!(g, Got::Host(BoardToHost::SlotPresented { .. } | BoardToHost::PresentFailed { .. }))
    })
    .map_err(|e| format!("the presentation did not end: {e}"))?;
    let got = s.take();
    let names: Vec<&str> = host_msgs(&got)
        .iter()
        .filter_map(|(_, m)| match m {
            BoardToHost::MotorFault { .. } => Some("MotorFault"),
            BoardToHost::Homed { .. } => Some("Homed"),
            BoardToHost::SlotPresented { slot: 4, .. } => Some("SlotPresented"),
            BoardToHost::PresentFailed { .. } => Some("PresentFailed"),
            _ => None,
        })
        .collect();
    ensure(names == ["MotorFault", "Homed", "SlotPresented"], || {
        format!(
            "a move 300 counts short should give MotorFault{{Stall}}, Homed, SlotPresented: {}",
            list(&got)
        )
    })
}

fn unlock_window(b: &mut Bench<'_>) -> Check {
    let (mut s, signer, _) = homed(b, at(0.0))?;
    let t0 = s.now;
    s.host(&signer.unlock_door(1_500))?;
    let got = s.take();
    ensure(
        host_has(&got, &BoardToHost::DoorUnlocked { window_ms: 1_500 })
            && got.iter().any(|(_, g)| *g == Got::Plant(BoardToPlant::LockCoil { energised: true })),
        || format!("UnlockDoor 1500 ms: no LockCoil {{ energised: true }} and DoorUnlocked: {}", list(&got)),
    )?;
    let end = t0 + Duration::from_millis(1_500);
    let named = s.acks.last().and_then(|(_, d)| *d);
    ensure(named.is_some_and(|d| d <= end.as_micros()), || {
        format!("the ack names {named:?}, after the window's end {end}")
    })?;
    s.advance(t0 + Duration::from_millis(1_499))?;
    let early = s.take();
    ensure(!host_has(&early, &BoardToHost::UnlockExpired), || {
        format!("the window ended early: {}", list(&early))
    })?;
    s.advance(end)?;
    let got = s.take();
    ensure(
        got.iter().any(|(t, g)| *t == end && *g == Got::Host(BoardToHost::UnlockExpired))
            && got
                .iter()
                .any(|(t, g)| *t == end && *g == Got::Plant(BoardToPlant::LockCoil { energised: false })),
        || {
            format!(
                "at {end} the window should end: LockCoil {{ energised: false }}, UnlockExpired: {}",
                list(&got)
            )
        },
    )
}

fn timers(b: &mut Bench<'_>) -> Check {
    let (mut s, signer) = b.open(at(0.0), true, false)?;
    hello(&mut s, signer)?;
    s.advance(at(5.0))?;
    let got = s.take();
    let beats: Vec<_> =
        host_msgs(&got).into_iter().filter(|(_, m)| matches!(m, BoardToHost::Heartbeat { .. })).collect();
    let want: Vec<_> =
        [2.0, 4.0].iter().map(|&t| (at(t), BoardToHost::Heartbeat { uptime_ms: (t * 1e3) as u64 })).collect();
    ensure(beats == want, || format!("heartbeats at boot + 2 s and + 4 s expected, got {beats:?}"))?;
    // An unlock window that ends with the heartbeat at 8 s: the heartbeat fires first.
    s.advance(at(7.0))?;
    s.host(&signer.unlock_door(1_000))?;
    s.advance(at(8.0))?;
    let got = s.take();
    let at8: Vec<_> = host_msgs(&got).into_iter().filter(|(t, _)| *t == at(8.0)).map(|(_, m)| m).collect();
    let order = [BoardToHost::Heartbeat { uptime_ms: 8_000 }, BoardToHost::UnlockExpired];
    ensure(at8 == order, || format!("at 8 s: Heartbeat, then UnlockExpired expected, got {at8:?}"))
}

fn power_reports(b: &mut Bench<'_>) -> Check {
    let (mut s, _, _) = homed(b, at(0.0))?;
    let steps = [
        ((false, 12_000), Some(PowerEvent::MainsLost)),
        ((false, 11_000), Some(PowerEvent::BatteryLow)),
        ((false, 10_900), None),
        ((true, 13_200), Some(PowerEvent::MainsRestored)),
    ];
    for ((mains, battery_mv), event) in steps {
        s.plant(&PlantToBoard::Power { mains, battery_mv })?;
        let got = s.take();
        let power: Vec<_> = host_msgs(&got)
            .into_iter()
            .filter(|(_, m)| matches!(m, BoardToHost::Power { .. }))
            .map(|(_, m)| m)
            .collect();
        let want: Vec<_> = event.into_iter().map(|event| BoardToHost::Power { event, battery_mv }).collect();
        ensure(power == want, || {
            format!("Power {{ mains: {mains}, battery_mv: {battery_mv} }}: {want:?} expected, got {power:?}")
        })?;
    }
    Ok(())
}

fn lockstep_clock(b: &mut Bench<'_>) -> Check {
    let (mut s, _, _) = homed(b, at(0.0))?;
    // A board in lockstep does nothing while the harness's clock stands still.
    let frames = s.listen(Duration::from_millis(600))?;
    ensure(frames == 0, || {
        format!("{frames} frames arrived in 600 ms of wall time while the clock stood still")
    })?;
    let (t0, acks, ticks) = (s.now, s.acks.len(), s.ticks);
    s.advance(t0 + Duration::from_secs(10))?;
    for &(now, next) in &s.acks[acks..] {
        let keepalive = now + 250_000;
        ensure(next.is_some_and(|d| d > now && d <= keepalive), || {
            format!(
                "the ClockAck for {} names {:?}: a deadline after it and within the 250 ms keepalive (§4.5) expected",
                Instant::from_micros(now),
                next.map(Instant::from_micros)
            )
        })?;
    }
    let idle = s.ticks - ticks;
    // Keepalives on two links and heartbeats: at most about 90 ticks in 10 s; a ClockAck that
    // counted its own retransmission timer would ask for one every 50 ms.
    ensure(idle <= 100, || format!("{idle} ticks for 10 s of idle time: a deadline named too early"))
}

fn restart(b: &mut Bench<'_>) -> Check {
    let c = {
        // A counter used up (refused while booting, §7.2), without homing.
        let (mut s, signer) = b.open(at(0.0), true, true)?;
        hello(&mut s, signer)?;
        s.host(&signer.present_slot(0))?;
        signer.counter()
    };
    // A new harness at 5 s: a new run, the clock from its first message, the counter kept.
    let (mut s, signer) = b.open(at(5.0), true, false)?;
    new_run(&mut s, signer, c, "a clock message from a new harness stream")?;
    // The same harness turning its clock back by more than a second: a new run too.
    s.jump_to(at(2.0))?;
    let got = s.take();
    ensure(matches!(host_msgs(&got).first(), Some((_, BoardToHost::Booted { .. }))), || {
        format!("a clock jump back from 6 s to 2 s did not restart the board: {}", list(&got))
    })
}

fn power_cut(b: &mut Bench<'_>) -> Check {
    let (Some(off), Some(on)) = (b.opts.power_off.clone(), b.opts.power_on.clone()) else {
        return Err(Miss::NotRun("no power hooks (--power-off-cmd, --power-on-cmd)".into()));
    };
    // Whatever the board does while its supply is cut, the supply comes back before the verdict.
    let cut = supply_cut(b, &off);
    if let (_, Some(why)) = crate::hooks::run("power_on", &on) {
        return Err(Miss::NotRun(why));
    }
    let c = cut?;
    // As the harness does: the plant reports mains back, then the clock; the board boots at it.
    let (mut s, signer) = b.open_after(at(3.0), PlantToBoard::Power { mains: true, battery_mv: 13_200 })?;
    new_run(&mut s, signer, c, "the first clock message after the supply came back")
}

/// The session has just sent `what`: the board must have restarted at the session's time,
/// `Booted` first, with `last_counter` still `c`, its uptime counted from then.
fn new_run(s: &mut Session<'_>, signer: &mut CommandSigner, c: u32, what: &str) -> Check {
    let start = s.now;
    let got = s.take();
    ensure(matches!(host_msgs(&got).first(), Some((_, BoardToHost::Booted { .. }))), || {
        format!("{what} did not restart the board: {}", list(&got))
    })?;
    let (h, _) = hello(s, signer)?;
    ensure(h.last_counter == c, || format!("last_counter {} after {what}; {c} before it", h.last_counter))?;
    s.advance(start + Duration::from_secs(1))?;
    s.host(&HostToBoard::Status)?;
    let got = s.take();
    let uptime = host_msgs(&got)
        .into_iter()
        .find_map(|(_, m)| if let BoardToHost::Status(st) = m { Some(st.uptime_ms) } else { None });
    ensure(uptime == Some(1_000), || {
        format!("uptime {uptime:?} ms 1 s after {what} at {start}: 1000 expected")
    })
}

/// A homed board whose supply `off` then cuts: it must say nothing at all, not even to a
/// clock message. The last counter it accepted before the cut.
fn supply_cut(b: &mut Bench<'_>, off: &str) -> Result<u32, Miss> {
    let (mut s, signer, _) = homed(b, at(0.0))?;
    s.host(&signer.unlock_door(1_000))?;
    if let (_, Some(why)) = crate::hooks::run("power_off", off) {
        return Err(Miss::NotRun(why));
    }
    s.advance_unanswered(Duration::from_secs(1))?;
    let frames = s.listen(Duration::from_millis(1_500))?;
    ensure(frames == 0, || format!("{frames} frames arrived while the supply was cut"))?;
    Ok(signer.counter())
}
