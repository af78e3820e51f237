//! Power cuts: the controller rebuilt from its journal, cut at every record boundary and at
//! random bytes, equals a replay of what survived, keeps its invariants, and goes on working.

mod support;

use std::time::Duration;

use controller::Controller;
use controller::api::NewContract;
use controller::audit::Record;
use controller::ids::*;
use controller::journal::{FsyncPolicy, Journal, MemJournal};
use controller::model::{KeyLocation, Storage};
use controller::registry::Registry;
use proptest::prelude::*;
use support::*;

/// A busy morning: contracts, takes, a wrong return taken back, a return, a revocation.
fn busy_world() -> World {
    busy_world_with(FsyncPolicy::Always)
}

fn busy_world_with(policy: FsyncPolicy) -> World {
    let mut w = World::with_journal(config(), vec![key(1, 4), key(2, 9), key(3, 12)], policy);
    let (_, p1) = w.contract(NewContract::new(A, vec![KeyId(1), KeyId(3)], vec![ContactId(1)]));
    let (_, p2) = w.contract(NewContract::new(A, vec![KeyId(2)], vec![ContactId(2)]));
    let mine = w.take_with(&p1);
    let theirs = w.take_with(&p2);
    w.advance(Duration::from_secs(3600));
    w.automat.hand = vec![mine[0], mine[1], theirs[0]];
    w.return_with(&p1, mine[0]);
    w.advance(Duration::from_secs(600));
    let now = w.now;
    w.ctl.revoke_contact(now, ContactId(2)).expect("revoked");
    w.pump();
    w.advance(Duration::from_secs(600));
    w
}

fn replay(records: &[Record]) -> Registry {
    let mut r = Registry::new();
    for rec in records {
        r.apply(rec.at, &rec.event);
    }
    r
}

#[track_caller]
fn recover_from(bytes: &[u8], now: jiff::Timestamp) -> (Controller, Vec<Record>) {
    let recovery = MemJournal::from_bytes(bytes.to_vec(), FsyncPolicy::Always).recover().expect("recovers");
    let ctl = Controller::recover(config(), now, &recovery.records).expect("chain verifies");
    (ctl, recovery.records)
}

#[test]
fn full_journal_recovers_the_live_state() {
    let w = busy_world();
    let (ctl, records) = recover_from(w.journal.bytes(), w.now);
    assert_eq!(records.len(), w.records.len());
    assert_eq!(ctl.registry(), w.ctl.registry(), "rebuilt registry equals the live one");
}

#[test]
fn a_cut_at_every_record_boundary_recovers_that_prefix() {
    let w = busy_world();
    let bytes = w.journal.bytes();
    // Record boundaries: re-frame the records one by one.
    let mut j = MemJournal::new(FsyncPolicy::Always);
    let mut boundaries = vec![0];
    for r in &w.records {
        j.append(r).expect("appends");
        boundaries.push(j.bytes().len());
    }
    assert_eq!(j.bytes(), bytes);
    for (n, &cut) in boundaries.iter().enumerate() {
        let (ctl, records) = recover_from(&bytes[..cut], w.now);
        assert_eq!(records.len(), n);
        assert_eq!(records, w.records[..n]);
        // The recovered controller equals a replay of the prefix (its own start record changes
        // no state).
        assert_eq!(ctl.registry(), &replay(&w.records[..n]), "cut after {n} records");
        ctl.registry().check_invariants().expect("invariants hold");
    }
}

/// Group commit never loses an acknowledgement: for a journal syncing every 1, 5 or 50 records,
/// a power cut at every point of the busy morning (after each record and each thing the world
/// was told) recovers every record that came before an acknowledgement, every contract the API
/// answered, and a controller whose registry is a replay of what survived.
#[test]
fn a_cut_at_any_point_keeps_everything_acknowledged_for_every_fsync_every() {
    for every in [1, 5, 50] {
        let policy = if every == 1 { FsyncPolicy::Always } else { FsyncPolicy::Every(every) };
        let w = busy_world_with(policy);
        let bytes = w.journal.bytes();
        assert!(w.cut_points.len() > 40, "a busy morning has many cut points: {}", w.cut_points.len());
        for (i, &(durable, acked)) in w.cut_points.iter().enumerate() {
            // The durable bytes, and a torn part of the next record that was on its way.
            for torn in [0, 7] {
                let cut = (durable + torn).min(bytes.len());
                let (ctl, records) = recover_from(&bytes[..cut], w.now);
                assert!(
                    records.len() >= acked,
                    "fsync_every {every}, cut point {i}: {} acknowledged records, {} recovered",
                    acked,
                    records.len()
                );
                assert_eq!(records, w.records[..records.len()]);
                assert_eq!(ctl.registry(), &replay(&records));
                for &(_, id) in w.contracts_acked.iter().filter(|(at, _)| *at <= i) {
                    assert!(
                        ctl.registry().contract(id).is_some(),
                        "fsync_every {every}: acknowledged {id} lost"
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn a_cut_at_a_random_byte_recovers_a_prefix(frac in 0.0f64..=1.0) {
        let w = busy_world();
        let bytes = w.journal.bytes();
        let cut = (bytes.len() as f64 * frac) as usize;
        let (ctl, records) = recover_from(&bytes[..cut], w.now);
        prop_assert_eq!(&records[..], &w.records[..records.len()]);
        prop_assert_eq!(ctl.registry(), &replay(&records));
        prop_assert!(ctl.registry().check_invariants().is_ok());
    }
}

#[test]
fn synced_records_survive_a_power_cut_and_the_controller_carries_on() {
    let mut w = World::new(vec![key(1, 4)]);
    w.journal = MemJournal::new(FsyncPolicy::Every(4));
    for r in &w.records {
        w.journal.append(r).expect("appends");
    }
    let (_, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let one = w.take_with(&pin)[0];
    let synced = w.journal.synced() as usize;
    w.journal.power_cut(5); // a few unsynced bytes made it: a torn tail
    let recovery = w.journal.recover().expect("recovers");
    assert!(recovery.records.len() >= synced, "lost a synced record");
    let mut ctl = Controller::recover(config(), w.now, &recovery.records).expect("verifies");
    // The recovered controller goes on: the same PIN still returns the key if the take was
    // journaled, or takes it again if the take was lost with the unsynced tail.
    let held = matches!(ctl.registry().key(KeyId(1)).expect("key").location, KeyLocation::Held { .. });
    std::mem::swap(&mut w.ctl, &mut ctl);
    w.records = recovery.records;
    w.pump();
    if held {
        w.return_with(&pin, one);
        assert_eq!(w.location(KeyId(1)), KeyLocation::Stored(Storage::Slot { automat: A, slot: 4 }));
    }
    controller::audit::verify_chain(&w.records).expect("one unbroken chain across the cut");
}
