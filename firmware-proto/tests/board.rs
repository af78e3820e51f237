//! The reference board firmware against a small in-test plant, in virtual time.

#![allow(clippy::panic, clippy::needless_range_loop)]

mod support;

use std::time::Duration;

use firmware_proto::auth::CommandSigner;
use firmware_proto::host::{Auth, BoardToHost, HostToBoard};
use firmware_proto::message::{self, Decoded};
use firmware_proto::plant::{BoardToPlant, PlantToBoard};
use firmware_proto::types::{DoorState, MotorFault, SecuredCommand, TagId, TamperSource};
use support::{BOARD_ID, KEY, Rig, Stall};

#[test]
fn homes_at_power_up() {
    let mut rig = Rig::new(1234.0);
    rig.run_for(Duration::from_secs(20));
    let reports = rig.reports();
    assert!(matches!(reports[0], BoardToHost::Booted { .. }), "{reports:?}");
    assert!(reports.contains(&BoardToHost::Homed { slot: 0 }), "{reports:?}");
    assert_eq!(rig.plant.window_slot(), 0);
    assert!((rig.plant.position() - 6000.0).abs() <= 4.0, "at {}", rig.plant.position());
    let status = rig.board.status();
    assert!(status.homed);
    assert_eq!(status.slot, Some(0));
}

#[test]
fn presents_every_slot_the_shorter_way() {
    let mut rig = Rig::homed();
    let mut here: i64 = 0;
    // Every slot from 0, then a walk that crosses the wrap-around both ways.
    let walk: Vec<u8> = (0..30).flat_map(|s| [s, 0]).chain([3, 28, 1, 16, 2, 17, 29, 0]).collect();
    for slot in walk {
        rig.plant.moves.clear();
        rig.host_log.clear();
        let cmd = rig.signer.present_slot(slot);
        rig.send(cmd);
        rig.run_for(Duration::from_secs(5));
        assert_eq!(rig.reports(), [BoardToHost::SlotPresented { slot, occupied: true }], "to slot {slot}");
        assert_eq!(rig.plant.window_slot(), usize::from(slot));
        let forward = (i64::from(slot) - here).rem_euclid(30);
        let expected_slots = if forward > 15 { forward - 30 } else { forward };
        let travelled: i64 = rig.plant.moves.iter().map(|(from, to)| i64::from(to - from)).sum();
        assert_eq!(travelled, expected_slots * 200, "{here} -> {slot} moved {travelled} counts");
        assert!(rig.plant.moves.len() <= 1, "one move, no corrections: {:?}", rig.plant.moves);
        here = i64::from(slot);
    }
}

#[test]
fn stall_mid_rotation_rehomes_and_completes_the_presentation() {
    let mut rig = Rig::homed();
    rig.plant.stall = Stall::Moves { n: 1, counts: 700.0 };
    let cmd = rig.signer.present_slot(10);
    rig.send(cmd);
    rig.run_for(Duration::from_secs(30));
    let reports = rig.reports();
    assert!(
        matches!(
            reports[0],
            BoardToHost::MotorFault { fault: MotorFault::Stall { expected: 8000, encoder: 6700 } }
        ),
        "{reports:?}"
    );
    assert_eq!(reports[1], BoardToHost::Homed { slot: 0 });
    assert_eq!(reports[2], BoardToHost::SlotPresented { slot: 10, occupied: true });
    assert_eq!(reports.len(), 3);
    assert_eq!(rig.plant.window_slot(), 10);
}

#[test]
fn persistent_stall_fails_the_presentation_and_reports_the_fault() {
    let mut rig = Rig::homed();
    rig.plant.stall = Stall::Forever;
    let cmd = rig.signer.present_slot(10);
    rig.send(cmd);
    rig.run_for(Duration::from_secs(60));
    let reports = rig.reports();
    assert!(matches!(reports[0], BoardToHost::MotorFault { fault: MotorFault::Stall { .. } }), "{reports:?}");
    assert_eq!(reports[1], BoardToHost::MotorFault { fault: MotorFault::HomingFailed });
    assert_eq!(reports[2], BoardToHost::PresentFailed { slot: 10, fault: MotorFault::HomingFailed });
    assert_eq!(reports.len(), 3);
    assert!(!rig.board.status().homed);
    // Nothing was unlocked and a new presentation starts with a homing run.
    assert!(!rig.plant.coil);
    rig.plant.stall = Stall::None;
    rig.host_log.clear();
    let cmd = rig.signer.present_slot(4);
    rig.send(cmd);
    rig.run_for(Duration::from_secs(30));
    assert_eq!(
        rig.reports(),
        [BoardToHost::Homed { slot: 0 }, BoardToHost::SlotPresented { slot: 4, occupied: true }]
    );
}

#[test]
fn small_position_error_is_corrected_not_a_stall() {
    let mut rig = Rig::homed();
    rig.plant.stall = Stall::Moves { n: 1, counts: 380.0 }; // 20 counts short of 2 slots
    let cmd = rig.signer.present_slot(2);
    rig.send(cmd);
    rig.run_for(Duration::from_secs(5));
    assert_eq!(rig.reports(), [BoardToHost::SlotPresented { slot: 2, occupied: true }]);
    assert_eq!(rig.plant.moves.len(), 2, "a corrective move: {:?}", rig.plant.moves);
}

#[test]
fn unlock_window_expires_and_relocks() {
    let mut rig = Rig::homed();
    let cmd = rig.signer.unlock_door(5_000);
    rig.send(cmd);
    assert!(rig.plant.coil, "latch released");
    rig.run_for(Duration::from_millis(4_999));
    assert_eq!(rig.reports(), [BoardToHost::DoorUnlocked { window_ms: 5_000 }]);
    rig.run_for(Duration::from_millis(1));
    assert_eq!(rig.reports(), [BoardToHost::DoorUnlocked { window_ms: 5_000 }, BoardToHost::UnlockExpired]);
    assert!(!rig.plant.coil, "latch engaged again");
    assert_eq!(rig.board.status().door, DoorState::Locked);
}

#[test]
fn take_a_key_through_the_door() {
    let mut rig = Rig::homed();
    let cmd = rig.signer.present_slot(7);
    rig.send(cmd);
    rig.run_for(Duration::from_secs(3));
    let cmd = rig.signer.unlock_door(10_000);
    rig.send(cmd);
    rig.run_for(Duration::from_secs(1));
    let now = rig.now;
    assert!(rig.plant.open_door(now, false));
    rig.run_for(Duration::from_millis(500));
    rig.send(HostToBoard::ReadTag);
    rig.run_for(Duration::from_millis(10));
    let now = rig.now;
    assert_eq!(rig.plant.take_key(now), Some(TagId(0xA007)));
    rig.run_for(Duration::from_millis(500));
    rig.send(HostToBoard::ReadTag);
    rig.run_for(Duration::from_millis(10));
    let now = rig.now;
    rig.plant.close_door(now);
    rig.run_for(Duration::from_secs(20)); // beyond the window: no UnlockExpired once opened
    assert_eq!(
        rig.reports(),
        [
            BoardToHost::SlotPresented { slot: 7, occupied: true },
            BoardToHost::DoorUnlocked { window_ms: 10_000 },
            BoardToHost::DoorOpened,
            BoardToHost::TagRead { slot: Some(7), tag: Some(TagId(0xA007)) },
            BoardToHost::Occupancy { slot: 7, occupied: false },
            BoardToHost::TagRead { slot: Some(7), tag: None },
            BoardToHost::DoorClosed,
        ]
    );
    assert!(!rig.plant.coil);
}

#[test]
fn forced_door_is_reported_and_blocks_rotation() {
    let mut rig = Rig::homed();
    let now = rig.now;
    assert!(!rig.plant.open_door(now, false), "latched door does not open");
    assert!(rig.plant.open_door(now, true));
    rig.run_for(Duration::from_millis(10));
    assert_eq!(rig.reports(), [BoardToHost::DoorForced]);
    let cmd = rig.signer.present_slot(3);
    rig.send(cmd);
    assert!(rig.saw(|m| matches!(m, BoardToHost::Rejected { command: 2, .. })), "{:?}", rig.reports());
    assert!(rig.plant.moves.is_empty());
}

fn count_tamper(rig: &Rig) -> usize {
    rig.reports().iter().filter(|m| matches!(m, BoardToHost::Tamper { .. })).count()
}

#[test]
fn forged_mac_is_refused_and_reported() {
    let mut rig = Rig::homed();
    let mut forger = CommandSigner::new(firmware_proto::auth::PairingKey([0x11; 32]), BOARD_ID, 100);
    let forged = forger.unlock_door(30_000);
    rig.send(forged);
    rig.run_for(Duration::from_millis(10));
    assert_eq!(
        rig.reports(),
        [BoardToHost::Tamper {
            source: TamperSource::BadMac { command: SecuredCommand::UnlockDoor, counter: 101 }
        }]
    );
    assert!(!rig.plant.coil, "door stays locked");
    // A forged counter does not advance the board's counter: the real host's next command works.
    let cmd = rig.signer.unlock_door(5_000);
    rig.send(cmd);
    assert!(rig.plant.coil);
}

#[test]
fn replayed_counter_is_refused_and_reported() {
    let mut rig = Rig::homed();
    let cmd = rig.signer.present_slot(5);
    rig.send(cmd.clone());
    rig.run_for(Duration::from_secs(3));
    rig.send(cmd); // the same bytes again
    let older = CommandSigner::new(KEY, BOARD_ID, 0).unlock_door(5_000); // counter 1, used already
    rig.send(older);
    rig.run_for(Duration::from_millis(10));
    assert_eq!(
        rig.reports(),
        [
            BoardToHost::SlotPresented { slot: 5, occupied: true },
            BoardToHost::Tamper {
                source: TamperSource::Replay { command: SecuredCommand::PresentSlot, counter: 1 }
            },
            BoardToHost::Tamper {
                source: TamperSource::Replay { command: SecuredCommand::UnlockDoor, counter: 1 }
            },
        ]
    );
    assert!(!rig.plant.coil);
    assert_eq!(rig.board.nv_state().last_counter, 1);
}

#[test]
fn every_flipped_byte_of_a_signed_unlock_is_refused() {
    let mut signer = CommandSigner::new(KEY, BOARD_ID, 41);
    let payload = message::encode_vec(&signer.unlock_door(8_000)).expect("encodes");
    for i in 0..payload.len() {
        for bit in 0..8 {
            let mut altered = payload.clone();
            altered[i] ^= 1 << bit;
            let Ok(Decoded::Known(msg)) = message::decode::<HostToBoard>(&altered) else {
                continue;
            };
            let mut rig = Rig::homed();
            rig.send(msg.clone());
            rig.run_for(Duration::from_millis(10));
            let reports = rig.reports();
            let secured = matches!(msg, HostToBoard::UnlockDoor { .. } | HostToBoard::PresentSlot { .. });
            if secured {
                assert_eq!(count_tamper(&rig), 1, "byte {i} bit {bit}: {msg:?} gave {reports:?}");
            }
            assert!(!rig.plant.coil, "byte {i} bit {bit}: {msg:?} unlocked the door");
        }
    }
}

#[test]
fn secured_command_without_valid_auth_never_moves_the_carousel() {
    let mut rig = Rig::homed();
    rig.send(HostToBoard::PresentSlot { slot: 9, auth: Auth { counter: 99, mac: [0; 16] } });
    rig.run_for(Duration::from_secs(3));
    assert!(rig.plant.moves.is_empty());
    assert_eq!(count_tamper(&rig), 1);
}

#[test]
fn lockstep_clock_is_acknowledged_with_the_next_deadline() {
    let mut rig = Rig::homed();
    let now = rig.now;
    rig.board.handle_plant(now, PlantToBoard::ClockJump { now_us: now.as_micros() });
    let ack = std::iter::from_fn(|| rig.board.poll_output()).find_map(|o| match o {
        firmware_proto::board::BoardOutput::Plant(BoardToPlant::ClockAck { now_us, next_deadline_us }) => {
            Some((now_us, next_deadline_us))
        }
        _ => None,
    });
    let (now_us, next) = ack.expect("a ClockAck");
    assert_eq!(now_us, now.as_micros());
    let next = next.expect("heartbeat is always scheduled");
    assert!(next > now.as_micros() && next <= now.as_micros() + 2_000_000);
}

#[test]
fn heartbeat_every_two_seconds() {
    let mut rig = Rig::homed();
    rig.host_log.clear();
    rig.run_for(Duration::from_secs(10));
    let beats = rig.host_log.iter().filter(|(_, m)| matches!(m, BoardToHost::Heartbeat { .. })).count();
    assert_eq!(beats, 5);
}

#[test]
fn power_up_with_the_door_open_homes_only_once_it_closes() {
    let mut rig = Rig::with_plant(300.0, |plant| plant.door_open = true);
    rig.run_for(Duration::from_secs(20));
    assert!(!rig.saw(|m| matches!(m, BoardToHost::Homed { .. })));
    assert!(rig.plant.moves.is_empty(), "never turns with the door open");
    let now = rig.now;
    rig.plant.close_door(now);
    rig.run_for(Duration::from_secs(20));
    assert!(rig.saw(|m| matches!(m, BoardToHost::Homed { slot: 0 })));
}

#[test]
fn commands_before_the_first_sensor_report_are_refused_busy() {
    let mut rig = Rig::new(500.0); // booted; the plant's Sensors answer is not delivered yet
    let present = rig.signer.present_slot(4);
    rig.send(present);
    let unlock = rig.signer.unlock_door(5_000);
    rig.send(unlock);
    rig.send(HostToBoard::Home);
    let busy = |command| BoardToHost::Rejected { command, reason: firmware_proto::types::Rejection::Busy };
    assert_eq!(&rig.reports()[1..], [busy(2), busy(3), busy(1)]);
    assert!(!rig.plant.coil && rig.plant.moves.is_empty());
}
