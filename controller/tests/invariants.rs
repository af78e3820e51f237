//! Property tests of the controller's invariants over random API calls and random users:
//! nobody is presented a slot holding a key they may not take; no overlapping contracts on a
//! not-shared key; every key is in exactly one place; the audit chain verifies.

mod support;

use std::time::Duration;

use controller::api::NewContract;
use controller::ids::*;
use controller::model::KeyLocation;
use proptest::prelude::*;
use support::*;

#[derive(Clone, Debug)]
enum Op {
    Contract { keys: Vec<u32>, contact: u32, start_min: i64, hours: Option<u64>, shared_pin: bool },
    Pin { which: usize, wrong: bool },
    Revoke { contact: u32 },
    Delete { which: usize },
    Wait { minutes: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (proptest::collection::vec(1u32..=6, 1..3), 1u32..=3, -30i64..180, proptest::option::of(1u64..12), any::<bool>())
            .prop_map(|(keys, contact, start_min, hours, shared_pin)| Op::Contract { keys, contact, start_min, hours, shared_pin }),
        5 => (any::<usize>(), prop::bool::weighted(0.2)).prop_map(|(which, wrong)| Op::Pin { which, wrong }),
        1 => (1u32..=3).prop_map(|contact| Op::Revoke { contact }),
        1 => any::<usize>().prop_map(|which| Op::Delete { which }),
        3 => (1u64..240).prop_map(|minutes| Op::Wait { minutes }),
    ]
}

/// A user at the automat after typing a PIN: for every unlock, maybe opens, takes what hangs
/// there or hangs something from their hand (maybe the wrong thing), and closes.
fn act(w: &mut World, choices: &mut impl Iterator<Item = u8>) {
    for _ in 0..8 {
        if w.automat.unlocked_until.is_none() {
            return;
        }
        let c = choices.next().unwrap_or(0);
        if c.is_multiple_of(5) {
            w.advance(Duration::from_secs(30)); // walks away: the window expires
            continue;
        }
        if !w.open_door() {
            return;
        }
        let occupied = w.automat.slots[usize::from(w.automat.window)].is_some();
        if occupied {
            w.take();
        } else if !w.automat.hand.is_empty() {
            let i = usize::from(c) % w.automat.hand.len();
            let item = w.automat.hand[i];
            w.hang(item);
        }
        w.advance(Duration::from_secs(2));
        w.close_door();
        w.advance(Duration::from_secs(2));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn invariants_hold_over_random_histories(ops in proptest::collection::vec(op(), 1..40), choices in proptest::collection::vec(any::<u8>(), 64)) {
        let keys: Vec<_> = (1..=6).map(|i| {
            let mut k = key(i, (i * 4) as u8);
            k.shared = i == 6;
            k
        }).collect();
        let mut w = World::new(keys);
        let mut choices = choices.into_iter().cycle();
        for op in ops {
            match op {
                Op::Contract { keys, contact, start_min, hours, shared_pin } => {
                    let mut new = NewContract::new(A, keys.into_iter().map(KeyId).collect(), vec![ContactId(contact)]);
                    let start = if start_min >= 0 { w.now + Duration::from_secs(start_min as u64 * 60) } else { w.now - Duration::from_secs((-start_min) as u64 * 60) };
                    new.start = Some(start);
                    new.end = hours.map(|h| start + Duration::from_secs(h * 3600));
                    if shared_pin {
                        new.pin = w.pins.first().map(|(_, p)| p.expose().to_string());
                    }
                    let now = w.now;
                    if let Ok((id, pin)) = w.ctl.create_contract(now, new) {
                        w.pins.push((id, pin));
                    }
                    w.pump();
                }
                Op::Pin { which, wrong } => {
                    let pin = match (wrong, w.pins.is_empty()) {
                        (false, false) => w.pins[which % w.pins.len()].1.expose().to_string(),
                        _ => format!("{:06}", which % 1_000_000),
                    };
                    w.enter_pin(&pin);
                    act(&mut w, &mut choices);
                }
                Op::Revoke { contact } => {
                    let now = w.now;
                    let _ = w.ctl.revoke_contact(now, ContactId(contact));
                    w.pump();
                }
                Op::Delete { which } => {
                    if !w.pins.is_empty() {
                        let id = w.pins[which % w.pins.len()].0;
                        let now = w.now;
                        let _ = w.ctl.delete_contract(now, id);
                        w.pump();
                    }
                }
                Op::Wait { minutes } => w.advance(Duration::from_secs(minutes * 60)),
            }
            prop_assert!(w.violations.is_empty(), "{:?}", w.violations);
            if let Err(e) = w.ctl.registry().check_invariants() {
                prop_assert!(false, "{}", e);
            }
            // The controller's idea of the keys matches the physical automat for every key it
            // believes is in a slot and that nobody put elsewhere.
            for e in w.ctl.registry().keys() {
                if let KeyLocation::Stored(controller::model::Storage::Slot { slot, .. }) = e.location {
                    let physical = w.automat.slots[usize::from(slot)];
                    prop_assert!(physical.is_some(), "{} believed in slot {} which is empty", e.key.id, slot);
                }
            }
        }
        prop_assert!(controller::audit::verify_chain(&w.records).is_ok());
    }
}
