//! The API's validation, reservations and the fleet.

mod support;

use std::time::Duration;

use controller::api::{ContractChange, NewContract, Reservation};
use controller::ids::*;
use controller::model::*;
use controller::registry::ApiError;
use controller::schedule::{AccessSchedule, WeeklyWindow};
use support::*;

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

#[test]
fn overlapping_contract_on_a_not_shared_key_is_refused() {
    let mut w = World::new(vec![key(1, 4)]);
    let mut a = NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]);
    a.start = Some(w.now + hours(1));
    a.end = Some(w.now + hours(5));
    let (first, _) = w.contract(a.clone());
    let mut b = a.clone();
    b.start = Some(w.now + hours(4));
    b.end = Some(w.now + hours(6));
    let now = w.now;
    assert_eq!(
        w.ctl.create_contract(now, b.clone()).err(),
        Some(ApiError::Overlapping { key: KeyId(1), existing: first })
    );
    // Back to back is fine.
    b.start = Some(w.now + hours(5));
    assert!(w.ctl.create_contract(now, b).is_ok());
    assert_eq!(
        ApiError::Overlapping { key: KeyId(1), existing: first }.to_string(),
        "Overlapping contract existing (contract-0 on key-1)"
    );
}

#[test]
fn shared_keys_allow_overlapping_contracts() {
    let mut k = key(1, 4);
    k.shared = true;
    let mut w = World::new(vec![k]);
    w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(2)]));
}

#[test]
fn pin_collision_start_in_past_unknowns_and_bad_pins_are_refused() {
    let mut w = World::new(vec![key(1, 4), key(2, 5)]);
    let (_, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let now = w.now;
    let mut same_pin = NewContract::new(A, vec![KeyId(2)], vec![ContactId(2)]);
    same_pin.pin = Some(pin.clone());
    assert_eq!(w.ctl.create_contract(now, same_pin.clone()).err(), Some(ApiError::PinInUse));
    assert_eq!(ApiError::PinInUse.to_string(), "Pincode already used in existing contracts");
    let mut past = NewContract::new(A, vec![KeyId(2)], vec![ContactId(2)]);
    past.start = Some(now - Duration::from_secs(60));
    assert_eq!(w.ctl.create_contract(now, past).err(), Some(ApiError::StartInPast));
    assert_eq!(
        w.ctl.create_contract(now, NewContract::new(A, vec![KeyId(9)], vec![ContactId(1)])).err(),
        Some(ApiError::UnknownKey(KeyId(9)))
    );
    assert_eq!(
        w.ctl.create_contract(now, NewContract::new(AutomatId(5), vec![KeyId(2)], vec![ContactId(1)])).err(),
        Some(ApiError::UnknownAutomat(AutomatId(5)))
    );
    assert_eq!(
        w.ctl.create_contract(now, NewContract::new(A, vec![KeyId(2)], vec![ContactId(9)])).err(),
        Some(ApiError::UnknownContact(ContactId(9)))
    );
    let mut bad = NewContract::new(A, vec![KeyId(2)], vec![ContactId(1)]);
    bad.pin = Some("12a4".into());
    assert_eq!(w.ctl.create_contract(now, bad).err(), Some(ApiError::InvalidPin));
    // Once the first contract has ended its PIN is free again.
    let mut later = same_pin;
    later.start = Some(now + hours(1));
    let first = w.pins[0].0;
    w.ctl
        .update_contract(now, first, ContractChange { end: Some(Some(now + hours(1))), ..Default::default() })
        .expect("shortened");
    w.advance(hours(2));
    later.start = Some(w.now);
    assert!(w.ctl.create_contract(w.now, later).is_ok());
}

#[test]
fn a_contract_whose_key_is_out_cannot_be_deleted() {
    let mut w = World::new(vec![key(1, 4)]);
    let (id, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let one = w.take_with(&pin)[0];
    let now = w.now;
    assert_eq!(w.ctl.delete_contract(now, id).err(), Some(ApiError::KeyOut { contract: id, key: KeyId(1) }));
    w.return_with(&pin, one);
    let now = w.now;
    w.ctl.delete_contract(now, id).expect("deleted once back");
    assert!(w.ctl.registry().contract(id).is_none());
    assert_eq!(w.ctl.registry().lockers().count(), 0, "its locker contract went with it");
}

#[test]
fn key_contract_for_a_stored_key_creates_a_locker_contract() {
    let mut w = World::new(vec![key(1, 4)]);
    let (id, _) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let lockers: Vec<_> = w.ctl.registry().lockers().cloned().collect();
    assert_eq!(lockers.len(), 1);
    assert_eq!((lockers[0].slot, lockers[0].key_contract), (4, Some(id)));
}

#[test]
fn regenerated_pin_replaces_the_old_one() {
    let mut w = World::new(vec![key(1, 4)]);
    let (id, old) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let now = w.now;
    let new = w.ctl.regenerate_pin(now, id).expect("new PIN").expose().to_string();
    w.pump();
    assert_ne!(old, new);
    w.enter_pin(&old);
    assert!(!w.open_door());
    assert_eq!(w.take_with(&new).len(), 1);
}

#[test]
fn access_schedule_window_across_a_daylight_saving_change() {
    let mut w = World::new(vec![key(1, 4)]);
    // Weekday mornings 06:00–09:00 in Helsinki; the clocks go forward on Sunday 2027-03-28.
    let days = [jiff::civil::Weekday::Monday, jiff::civil::Weekday::Friday];
    let schedule = AccessSchedule::new(
        "Europe/Helsinki",
        vec![WeeklyWindow::new(&days, jiff::civil::time(6, 0, 0, 0), jiff::civil::time(9, 0, 0, 0))],
    )
    .expect("zone");
    w.advance(Duration::from_secs(1));
    let friday_0530_local: jiff::Timestamp = "2027-03-26T03:30:00Z".parse().expect("valid");
    w.advance(Duration::from_secs((friday_0530_local.as_second() - w.now.as_second()) as u64));
    let mut new = NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]);
    new.schedule = Some(schedule);
    let (_, pin) = w.contract(new);
    w.enter_pin(&pin); // 05:30 EET: closed
    assert!(!w.open_door());
    w.advance(Duration::from_secs(45 * 60)); // 06:15 EET: open
    let one = w.take_with(&pin)[0];
    // Monday after the change: 05:30 EEST is 02:30Z, which was 04:30 before: still closed.
    let monday_0530_local: jiff::Timestamp = "2027-03-29T02:30:00Z".parse().expect("valid");
    w.advance(Duration::from_secs((monday_0530_local.as_second() - w.now.as_second()) as u64));
    w.enter_pin(&pin);
    assert!(!w.open_door(), "05:30 local is outside the window");
    w.advance(Duration::from_secs(45 * 60)); // 06:15 EEST = 03:15Z
    w.return_with(&pin, one);
    assert!(matches!(w.location(KeyId(1)), KeyLocation::Stored(_)));
}

#[test]
fn long_reservation_becomes_fetch_and_return_contracts_at_the_nearest_automat() {
    let mut w = World::new(vec![]);
    let now = w.now;
    // Three automats: A (Helsinki centre), B (Espoo), C (Vantaa); flat 12 has keys in B and C.
    for (id, lat, lon) in [(2u32, 60.205, 24.655), (3, 60.294, 25.040)] {
        let a =
            Automat { id: AutomatId(id), name: format!("A{id}"), slots: 30, location: Location { lat, lon } };
        w.ctl.add_automat(now, a).expect("automat");
    }
    for (kid, automat) in [(10u32, 2u32), (11, 3)] {
        let mut k = key(kid, 0);
        k.storage = Storage::Slot { automat: AutomatId(automat), slot: 0 };
        w.ctl.enrol_key(now, k).expect("enrol");
    }
    let group = DeviceGroup {
        id: DeviceGroupId(1),
        automats: vec![A, AutomatId(2), AutomatId(3)],
        entities: vec![("Flat 12".into(), vec![KeyId(10), KeyId(11)])],
    };
    w.ctl.add_device_group(now, group).expect("group");
    let near_vantaa = Location { lat: 60.30, lon: 25.03 };
    let r = Reservation {
        entity: "Flat 12".into(),
        contacts: vec![ContactId(1)],
        start: now + hours(24),
        end: now + hours(24 * 5),
        group: DeviceGroupId(1),
        near: Some(near_vantaa),
    };
    let out = w.ctl.create_reservation(now, r.clone()).expect("resolved");
    assert_eq!(out.automat, AutomatId(3));
    assert_eq!(out.contracts.len(), 2, "split into fetch and return");
    let reg = w.ctl.registry();
    let fetch = reg.contract(out.contracts[0].0).expect("fetch");
    let ret = reg.contract(out.contracts[1].0).expect("return");
    assert_eq!((fetch.purpose, ret.purpose), (Purpose::Fetch, Purpose::Return));
    assert_eq!(fetch.start, r.start);
    assert_eq!(ret.end, Some(r.end));
    assert!(fetch.end.expect("fetch ends") <= ret.start);
    // The key stays booked between the fetch and the return contract: a contract in the gap
    // (found by the reservation scenario: it was once accepted) is refused.
    let mut gap = NewContract::new(AutomatId(3), vec![KeyId(11)], vec![ContactId(2)]);
    gap.start = Some(r.start + hours(48));
    gap.end = Some(r.start + hours(50));
    assert_eq!(
        w.ctl.create_contract(now, gap).err(),
        Some(ApiError::Overlapping { key: KeyId(11), existing: out.contracts[0].0 })
    );
    // The same flat again, overlapping: Vantaa's key is taken, so Espoo serves.
    let again = w.ctl.create_reservation(now, r).expect("resolved");
    assert_eq!(again.automat, AutomatId(2));
    // A short one is a single contract.
    let short = Reservation {
        entity: "Flat 12".into(),
        contacts: vec![ContactId(2)],
        start: now + hours(24 * 10),
        end: now + hours(24 * 10 + 3),
        group: DeviceGroupId(1),
        near: None,
    };
    assert_eq!(w.ctl.create_reservation(now, short).expect("resolved").contracts.len(), 1);
}
