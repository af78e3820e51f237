//! Sessions at an automat, end to end at the message level: keypad, board, cameras, user.

mod support;

use std::time::Duration;

use controller::alerts::AlertKind;
use controller::api::NewContract;
use controller::event::{Event, Verdict};
use controller::ids::*;
use controller::model::*;
use support::*;

fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

#[test]
fn happy_take_and_return() {
    let mut w = World::new(vec![key(1, 4)]);
    let (id, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let taken = w.take_with(&pin);
    assert_eq!(taken.len(), 1);
    assert!(matches!(w.location(KeyId(1)), KeyLocation::Held { contract, .. } if contract == id));
    assert_eq!(w.automat.presented, [4]);
    w.advance(hours(1));
    w.return_with(&pin, taken[0]);
    assert_eq!(w.location(KeyId(1)), KeyLocation::Stored(Storage::Slot { automat: A, slot: 4 }));
    let returned = w.records.iter().find_map(|r| match &r.event {
        Event::KeyReturned { check, images, .. } => Some((*check, *images)),
        _ => None,
    });
    let (check, images) = returned.expect("a KeyReturned record");
    assert_eq!(check.verdict, Verdict::Match);
    assert!(images.user.is_some() && images.before.is_some() && images.after.is_some());
    assert!(w.open_alerts().is_empty(), "{:?}", w.open_alerts());
    controller::audit::verify_chain(&w.records).expect("chain verifies");
}

#[test]
fn a_take_is_recorded_when_the_key_leaves_the_hook_and_a_key_hung_back_is_a_return() {
    let mut w = World::new(vec![key(1, 4)]);
    let (id, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    w.enter_pin(&pin);
    assert!(w.open_door());
    let item = w.take().expect("the key hangs there");
    // Recorded before the door closes, so a power cut now loses nothing.
    assert!(matches!(w.location(KeyId(1)), KeyLocation::Held { contract, .. } if contract == id));
    // The user changes their mind and hangs it back before closing the door.
    w.hang(item);
    w.advance(Duration::from_secs(2));
    w.close_door();
    w.advance(Duration::from_secs(1));
    assert_eq!(w.location(KeyId(1)), KeyLocation::Stored(Storage::Slot { automat: A, slot: 4 }));
    let events = w.events();
    let fetched = events.iter().position(|e| e.starts_with("KeyFetched")).expect("fetched");
    let returned = events.iter().position(|e| e.starts_with("KeyReturned")).expect("returned");
    assert!(fetched < returned, "{events:?}");
    controller::audit::verify_chain(&w.records).expect("chain verifies");
}

#[test]
fn bundle_of_three_keys_is_presented_in_minimal_travel_order() {
    let mut w = World::new(vec![key(1, 2), key(2, 28), key(3, 27)]);
    let (_, pin) = w.contract(NewContract::new(A, vec![KeyId(1), KeyId(2), KeyId(3)], vec![ContactId(1)]));
    let taken = w.take_with(&pin);
    assert_eq!(taken.len(), 3);
    assert_eq!(w.automat.presented, [2, 28, 27]);
}

/// Keys 1 (slot 4) and 2 (slot 9) under a contract each, both taken; user 1 holds both (say a
/// colleague's key was handed over), types their PIN and hangs key 2 in key 1's slot, the door
/// still open. Returns the world and the two keys.
fn wrong_key_hung_in_key_ones_slot() -> (World, Item, Item) {
    let mut w = World::new(vec![key(1, 4), key(2, 9)]);
    let (_, pin1) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let (_, pin2) = w.contract(NewContract::new(A, vec![KeyId(2)], vec![ContactId(2)]));
    let one = w.take_with(&pin1)[0];
    let two = w.take_with(&pin2)[0];
    w.automat.hand = vec![one, two];
    w.enter_pin(&pin1);
    assert!(w.open_door());
    w.hang(two);
    (w, one, two)
}

#[test]
fn wrong_tagged_key_is_noticed_taken_back_and_the_right_one_returned() {
    let (mut w, one, two) = wrong_key_hung_in_key_ones_slot();
    assert!(w.display.iter().any(|d| d.contains("Wrong key")), "noticed while open: {:?}", w.display);
    w.close_door();
    w.advance(Duration::from_secs(1));
    // Presented again for taking it back.
    assert!(w.open_door(), "door unlocked again: {:?}", w.display);
    assert_eq!(w.take(), Some(two));
    w.close_door();
    w.advance(Duration::from_secs(1));
    assert!(w.open_door(), "unlocked for the right key: {:?}", w.display);
    w.hang(one);
    w.close_door();
    w.advance(Duration::from_secs(1));
    assert_eq!(w.location(KeyId(1)), KeyLocation::Stored(Storage::Slot { automat: A, slot: 4 }));
    assert!(matches!(w.location(KeyId(2)), KeyLocation::Held { .. }));
    assert!(!w.open_alerts().contains(&AlertKind::WrongKey));
}

#[test]
fn wrong_key_left_behind_is_an_incident_with_images() {
    let (mut w, _, _) = wrong_key_hung_in_key_ones_slot();
    w.close_door();
    w.advance(Duration::from_secs(60)); // walks away: the take-back window expires
    let alert =
        w.ctl.registry().alerts().find(|a| a.kind == AlertKind::WrongKey).cloned().expect("incident alert");
    assert_eq!(alert.key, Some(KeyId(1)));
    assert_eq!(alert.found, Some(KeyId(2)));
    assert!(alert.images.user.is_some() && alert.images.before.is_some() && alert.images.after.is_some());
    // Key 2 now lives in slot 4; key 1 is still out.
    assert_eq!(w.location(KeyId(2)), KeyLocation::Stored(Storage::Slot { automat: A, slot: 4 }));
    assert!(matches!(w.location(KeyId(1)), KeyLocation::Held { .. }));
}

#[test]
fn untagged_wrong_key_is_caught_by_the_camera() {
    let mut w = World::new(vec![key(1, 4)]);
    let (_, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let _ = w.take_with(&pin);
    let stranger = Item { key: None, tag: None, look: 2 }; // green disc, no tag
    w.automat.hand.push(stranger);
    w.enter_pin(&pin);
    assert!(w.open_door());
    w.hang(stranger);
    w.close_door();
    w.advance(Duration::from_secs(60));
    let alert = w.ctl.registry().alerts().find(|a| a.kind == AlertKind::WrongKey).cloned().expect("caught");
    assert_eq!(alert.found, None);
    assert!(matches!(w.location(KeyId(1)), KeyLocation::Held { .. }));
}

#[test]
fn tag_reader_failure_leaves_the_camera_to_decide() {
    let mut w = World::new(vec![key(1, 4)]);
    let (_, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let one = w.take_with(&pin)[0];
    w.automat.tag_reader_ok = false;
    w.light = 0.75;
    w.return_with(&pin, one);
    assert_eq!(w.location(KeyId(1)), KeyLocation::Stored(Storage::Slot { automat: A, slot: 4 }));
}

#[test]
fn camera_failure_with_a_tag_still_verifies_and_without_both_is_unverified() {
    let mut w = World::new(vec![key(1, 4), key(2, 5)]);
    let (_, pin1) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let (_, pin2) = w.contract(NewContract::new(A, vec![KeyId(2)], vec![ContactId(1)]));
    let one = w.take_with(&pin1)[0];
    let two = w.take_with(&pin2)[0];
    w.automat.camera_ok = false;
    w.return_with(&pin1, one);
    assert!(!w.open_alerts().contains(&AlertKind::VerificationUnavailable));
    w.automat.tag_reader_ok = false;
    w.return_with(&pin2, two);
    assert!(w.open_alerts().contains(&AlertKind::VerificationUnavailable));
    assert!(matches!(w.location(KeyId(1)), KeyLocation::Stored(_)));
    assert!(matches!(w.location(KeyId(2)), KeyLocation::Stored(_)));
}

#[test]
fn return_code_returns_only_while_the_slot_is_empty() {
    let mut k = key(1, 4);
    k.return_code = ReturnCode::parse("4711");
    let mut w = World::new(vec![k, key(2, 5)]);
    let (_, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let one = w.take_with(&pin)[0];
    w.press("*4711#");
    assert!(w.open_door(), "{:?}", w.display);
    w.hang(one);
    w.close_door();
    w.advance(Duration::from_secs(1));
    assert!(matches!(w.location(KeyId(1)), KeyLocation::Stored(_)));
    assert!(w.events().iter().any(|e| e.starts_with("ReturnCodeUsed")));
    assert!(!w.events().iter().any(|e| e.contains("4711")), "no return code in any record");
}

#[test]
fn return_code_refused_while_the_slot_is_occupied() {
    let mut k = key(1, 4);
    k.return_code = ReturnCode::parse("4711");
    let mut w = World::new(vec![k, key(2, 9)]);
    let (_, pin1) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let (_, pin2) = w.contract(NewContract::new(A, vec![KeyId(2)], vec![ContactId(2)]));
    let _one = w.take_with(&pin1);
    let two = w.take_with(&pin2)[0];
    // Key 2 is returned into key 1's slot by someone else: wrong item left there.
    w.automat.hand = vec![two];
    w.enter_pin(&pin1);
    assert!(w.open_door());
    w.hang(two);
    w.close_door();
    w.advance(Duration::from_secs(60));
    let unlocks = w.automat.unlocks;
    w.press("*4711#");
    assert_eq!(w.automat.unlocks, unlocks, "no unlock");
    assert!(w.display.iter().any(|d| d.contains("occupied")), "{:?}", w.display);
}

#[test]
fn five_wrong_pins_lock_the_keypad_and_the_right_pin_waits() {
    let mut w = World::new(vec![key(1, 4)]);
    let (_, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let wrong = if pin == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        w.enter_pin(wrong);
    }
    assert!(w.open_alerts().contains(&AlertKind::Lockout));
    w.enter_pin(&pin);
    assert_eq!(w.automat.presented, [] as [u8; 0], "refused during the lockout");
    w.advance(Duration::from_secs(301));
    assert!(!w.open_alerts().contains(&AlertKind::Lockout));
    assert_eq!(w.take_with(&pin).len(), 1);
}

#[test]
fn shared_key_out_with_another_holder_is_told_and_alerted() {
    let mut k = key(1, 4);
    k.shared = true;
    let mut w = World::new(vec![k]);
    let (_, pin1) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let (_, pin2) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(2)]));
    assert_eq!(w.take_with(&pin1).len(), 1);
    w.enter_pin(&pin2);
    assert!(w.display.iter().any(|d| d.contains("out with another user")), "{:?}", w.display);
    assert!(w.open_alerts().contains(&AlertKind::SharedKeyOut));
}

#[test]
fn revoked_contact_with_key_out_is_refused_and_alerted() {
    let mut w = World::new(vec![key(1, 4)]);
    let (_, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let one = w.take_with(&pin)[0];
    let now = w.now;
    w.ctl.revoke_contact(now, ContactId(1)).expect("revoked");
    w.pump();
    assert!(w.open_alerts().contains(&AlertKind::RevokedKeyOut));
    w.enter_pin(&pin);
    assert!(w.display.iter().any(|d| d.contains("revoked")), "{:?}", w.display);
    assert!(!w.open_door());
    let _ = one;
}

#[test]
fn overdue_alert_at_the_deadline_and_the_late_return_clears_it() {
    let mut w = World::new(vec![key(1, 4)]);
    let end = w.now + hours(8);
    let mut new = NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]);
    new.end = Some(end);
    let (_, pin) = w.contract(new);
    let one = w.take_with(&pin)[0];
    w.advance(hours(8) + Duration::from_secs(14 * 60));
    assert!(!w.open_alerts().contains(&AlertKind::Overdue));
    w.advance(Duration::from_secs(120));
    assert!(w.open_alerts().contains(&AlertKind::Overdue));
    // The contract has ended, so its PIN no longer opens: a return code is the way back.
    let _ = one;
}

#[test]
fn daily_deadline_makes_a_key_overdue_at_17() {
    let mut k = key(1, 4);
    k.daily_deadline = Some(jiff::civil::time(17, 0, 0, 0));
    let mut w = World::new(vec![k]);
    let (_, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let one = w.take_with(&pin)[0]; // 08:00Z
    w.advance(hours(8) + Duration::from_secs(50 * 60)); // 16:50
    assert!(!w.open_alerts().contains(&AlertKind::Overdue));
    w.advance(Duration::from_secs(15 * 60)); // 17:05
    assert!(w.open_alerts().contains(&AlertKind::Overdue));
    w.return_with(&pin, one);
    assert!(!w.open_alerts().contains(&AlertKind::Overdue));
}

#[test]
fn door_held_open_raises_an_alarm_and_closing_clears_it() {
    let mut w = World::new(vec![key(1, 4)]);
    let (_, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    w.enter_pin(&pin);
    assert!(w.open_door());
    w.take();
    w.advance(Duration::from_secs(61));
    assert!(w.open_alerts().contains(&AlertKind::DoorHeldOpen));
    w.close_door();
    assert!(!w.open_alerts().contains(&AlertKind::DoorHeldOpen));
}

#[test]
fn persistent_motor_fault_tells_the_user_and_exposes_nothing() {
    let mut w = World::new(vec![key(1, 4)]);
    let (_, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    w.automat.stall_forever = true;
    w.enter_pin(&pin);
    assert_eq!(w.automat.unlocks, 0);
    assert!(w.display.iter().any(|d| d.contains("Out of order")), "{:?}", w.display);
    assert!(matches!(w.location(KeyId(1)), KeyLocation::Stored(_)));
}

#[test]
fn contract_not_started_expired_and_permanent() {
    let mut w = World::new(vec![key(1, 4), key(2, 5), key(3, 6)]);
    let mut later = NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]);
    later.start = Some(w.now + hours(2));
    let (_, p_later) = w.contract(later);
    let mut short = NewContract::new(A, vec![KeyId(2)], vec![ContactId(1)]);
    short.end = Some(w.now + hours(1));
    let (_, p_short) = w.contract(short);
    let (_, p_perm) = w.contract(NewContract::new(A, vec![KeyId(3)], vec![ContactId(1)]));
    w.enter_pin(&p_later);
    assert!(w.display.iter().any(|d| d.contains("not started")));
    w.advance(hours(3));
    w.enter_pin(&p_short);
    assert!(w.display.iter().any(|d| d.contains("ended")));
    assert_eq!(w.automat.unlocks, 0);
    assert_eq!(w.take_with(&p_perm).len(), 1);
    assert_eq!(w.take_with(&p_later).len(), 1);
}

#[test]
fn no_pin_ever_appears_in_a_record() {
    let mut w = World::new(vec![key(1, 4)]);
    let (id, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    let _ = w.take_with(&pin);
    let now = w.now;
    let fresh = w.ctl.regenerate_pin(now, id).expect("regenerated");
    w.pump();
    for r in &w.records {
        let bytes = postcard::to_stdvec(&r.event).expect("encodes");
        for p in [pin.as_bytes(), fresh.expose().as_bytes()] {
            assert!(!bytes.windows(p.len()).any(|win| win == p), "PIN bytes in {:?}", r.event);
        }
        assert!(!format!("{:?}", r.event).contains(&pin));
    }
}

#[test]
fn indicators_follow_the_automat_ready_busy_window_and_fault() {
    use firmware_proto::types::IndicatorMode::{Off, On};
    let mut w = World::new(vec![key(1, 4)]);
    let (_, pin) = w.contract(NewContract::new(A, vec![KeyId(1)], vec![ContactId(1)]));
    w.advance(Duration::from_secs(1));
    // Ready, Busy, Fault, Window.
    assert_eq!(w.automat.leds, [On, Off, Off, Off], "paired and idle");
    w.enter_pin(&pin);
    assert_eq!(w.automat.leds, [Off, On, Off, Off], "a session presents");
    assert!(w.open_door());
    w.take();
    w.advance(Duration::from_millis(10));
    assert_eq!(w.automat.leds, [Off, On, Off, On], "the door is open");
    w.advance(Duration::from_secs(61));
    assert_eq!(w.automat.leds[2], On, "held open: a fault");
    w.close_door();
    w.advance(Duration::from_secs(1));
    assert_eq!(w.automat.leds, [On, Off, Off, Off], "closed, alarm cleared, idle again");
}
