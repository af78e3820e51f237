//! What must hold after every run, whatever its scenario expects: the properties swarm testing
//! hunts for violations of. [`Run::finish`](super::Run::finish) adds each violation to the
//! run's failures, so a scenario (or a swarm reproducer) fails on them under `sim run` too.
//!
//! 1. The durable audit trail (what the journal gives back) verifies as a hash chain; no
//!    acknowledged record is missing after a power cut (checked at each restore): every record
//!    that came before something the world was told (an API result, a screen line, a board
//!    command, a capture), whatever `fsync_every` says.
//! 2. Nobody is handed a key they may not take: every `KeyFetched` is under a contract of the
//!    session that was opened, which holds that key, was in force when the session opened, and
//!    was not revoked by then.
//! 3. Every take has the user's photo and the before image; every return the user's photo,
//!    the before and the after image; every refused code the user's photo.
//! 4. No key is lost or duplicated: each fleet key is on exactly one hook or in one hand.
//! 5. The controller knows every fleet key, and its idea of where each is matches the world,
//!    or an open alert names the key, or an open `VerificationUnavailable` alert at its automat admits a return that
//!    neither tag nor camera could judge (the documented fallback): a mismatch is never silent.
//! 6. A key still out after its contract's end plus the overdue grace has an open `Overdue`
//!    alert (or, when its contract was revoked, a `RevokedKeyOut` one).
//! 7. Hands: every key a person takes off a hook was presented in a session opened with that
//!    person's own code, or an open alert names the key (a theft the automat noticed).

use std::collections::BTreeMap;

use controller::alerts::AlertKind;
use controller::audit::verify_chain;
use controller::event::Event;
use controller::ids::{AutomatId, ContractId, KeyId};
use controller::journal::Journal;
use controller::model::{KeyLocation, Storage};

use super::{Run, fmt_time};

/// Where a fleet key physically is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Hook(usize, u8),
    Hand(usize),
}

impl Run {
    /// The invariants this run breaks, each as a sentence naming the invariant.
    pub(super) fn invariant_failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        let at = fmt_time(self.now);
        let records = match self.electronics.journal().clone().recover() {
            Ok(r) => r.records,
            Err(e) => {
                out.push(format!("{at}: invariant audit: the journal cannot be read: {e}"));
                return out;
            }
        };
        if let Err(e) = verify_chain(&records) {
            out.push(format!("{at}: invariant audit: the chain does not verify: {e}"));
        }
        let controller = self.electronics.controller();
        let registry = controller.map(|c| c.registry());

        self.takes_and_returns(&records, registry, &mut out);
        let places = self.conservation(&mut out);
        self.hands(registry, &mut out);
        if let Some(registry) = registry {
            self.registry_and_overdue(registry, &places, &mut out);
        }
        out
    }

    /// 2 and 3: every take entitled, every take and return with its images.
    fn takes_and_returns(
        &self,
        records: &[controller::audit::Record],
        registry: Option<&controller::registry::Registry>,
        out: &mut Vec<String>,
    ) {
        let mut sessions: BTreeMap<AutomatId, (jiff::Timestamp, Vec<ContractId>)> = BTreeMap::new();
        let mut revoked: BTreeMap<ContractId, jiff::Timestamp> = BTreeMap::new();
        for r in records {
            let when = std::time::Duration::try_from(r.at.duration_since(self.start)).ok();
            let when = when.map_or_else(|| r.at.to_string(), |d| fmt_time(firmware_proto::Instant::ZERO + d));
            match &r.event {
                Event::SessionOpened { automat, contracts, .. } => {
                    sessions.insert(*automat, (r.at, contracts.clone()));
                }
                Event::ContactRevoked { contracts, .. } => {
                    for c in contracts {
                        revoked.entry(*c).or_insert(r.at);
                    }
                }
                Event::KeyFetched { key, contract, automat, images, .. } => {
                    if images.user.is_none() || images.before.is_none() {
                        out.push(format!("{when}: invariant images: {key} taken without {images:?}"));
                    }
                    let Some(registry) = registry else { continue };
                    let entitled = sessions.get(automat).is_some_and(|(opened, contracts)| {
                        contracts.contains(contract)
                            && registry.contract(*contract).is_some_and(|c| {
                                c.keys.contains(key)
                                    && c.covers(*opened)
                                    && c.schedule.as_ref().is_none_or(|s| s.allows(*opened))
                            })
                            && revoked.get(contract).is_none_or(|t| t > opened)
                    });
                    if !entitled {
                        out.push(format!("{when}: invariant entitlement: {key} handed out under {contract}"));
                    }
                }
                Event::KeyReturned { key, images, .. }
                    if images.user.is_none() || images.before.is_none() || images.after.is_none() =>
                {
                    out.push(format!("{when}: invariant images: {key} returned without {images:?}"));
                }
                Event::CodeRefused { reason, photo: None, .. } => {
                    out.push(format!(
                        "{when}: invariant images: a code refused ({}) without the user's photo",
                        reason.name()
                    ));
                }
                _ => {}
            }
        }
    }

    /// 4: each fleet key in one place; returns where each is.
    fn conservation(&self, out: &mut Vec<String>) -> BTreeMap<KeyId, Vec<Place>> {
        let at = fmt_time(self.now);
        let mut places: BTreeMap<KeyId, Vec<Place>> = BTreeMap::new();
        for (i, plant) in self.plants.iter().enumerate() {
            for (slot, item) in plant.hooks.iter().enumerate() {
                if let Some(k) = item.as_ref().and_then(|item| item.key) {
                    places.entry(k).or_default().push(Place::Hook(i, slot as u8));
                }
            }
        }
        for (u, user) in self.users.iter().enumerate() {
            for k in user.hand.iter().filter_map(|item| item.key) {
                places.entry(k).or_default().push(Place::Hand(u));
            }
        }
        for spec in &self.scenario.keys {
            let k = KeyId(spec.id);
            let n = places.get(&k).map_or(0, Vec::len);
            if n != 1 {
                out.push(format!("{at}: invariant conservation: {k} is in {n} places"));
            }
        }

        places
    }

    /// 7: who took each key.
    fn hands(&self, registry: Option<&controller::registry::Registry>, out: &mut Vec<String>) {
        for t in &self.taken {
            let named = registry.is_some_and(|r| {
                r.alerts().any(|a| a.key == Some(KeyId(t.key)) || a.found == Some(KeyId(t.key)))
            });
            if t.owner != Some(t.user) && !named {
                let owner =
                    t.owner.map_or("nobody's code".to_string(), |o| format!("{}'s code", self.users[o].name));
                out.push(format!(
                    "{}: invariant hands: {} took {} from automat {}, in a session opened by {owner}, with no alert naming it",
                    fmt_time(t.at),
                    self.users[t.user].name,
                    KeyId(t.key),
                    self.automats.get(t.automat).map_or(0, |a| a.0)
                ));
            }
        }
    }

    /// 5 and 6: the registry against the world, and overdue keys.
    fn registry_and_overdue(
        &self,
        registry: &controller::registry::Registry,
        places: &BTreeMap<KeyId, Vec<Place>>,
        out: &mut Vec<String>,
    ) {
        let at = fmt_time(self.now);
        let now = self.electronics.timestamp(self.now);
        let grace = jiff::SignedDuration::try_from(self.electronics.controller_config().overdue_grace)
            .unwrap_or(jiff::SignedDuration::ZERO);
        for spec in &self.scenario.keys {
            let k = KeyId(spec.id);
            let Some(entry) = registry.key(k) else {
                out.push(format!(
                    "{at}: invariant registry: {k} is unknown to the controller (its enrolment was lost)"
                ));
                continue;
            };
            let alerted = |kinds: &[AlertKind]| {
                registry.alerts().any(|a| (a.key == Some(k) || a.found == Some(k)) && kinds.contains(&a.kind))
            };
            let home = match entry.key.storage {
                Storage::Slot { automat, .. } => Some(automat),
                _ => None,
            };
            let any_alert = registry.alerts().any(|a| {
                a.key == Some(k)
                    || a.found == Some(k)
                    || a.kind == AlertKind::VerificationUnavailable
                        && a.automat.is_some()
                        && a.automat == home
            });
            let Some(place) = places.get(&k).and_then(|p| p.first()).copied() else { continue };
            let agrees = match (entry.location, place) {
                (KeyLocation::Stored(Storage::Slot { automat, slot }), Place::Hook(i, s)) => {
                    self.automats.get(i) == Some(&automat) && s == slot
                }
                (KeyLocation::Held { .. }, Place::Hand(_)) => true,
                _ => false,
            };
            if !agrees && !any_alert {
                out.push(format!(
                    "{at}: invariant registry: {k} is {:?} to the controller but {place:?} in the world, with no alert",
                    entry.location
                ));
            }
            if let KeyLocation::Held { contract, .. } = entry.location
                && let Some(c) = registry.contract(contract)
                && let Some(end) = c.end
                && now > end + grace + jiff::SignedDuration::from_secs(60)
                && !alerted(&[AlertKind::Overdue, AlertKind::RevokedKeyOut])
            {
                out.push(format!("{at}: invariant overdue: {k} is out past {end} with no Overdue alert"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::RunOptions;

    /// The happy scenario run to its end (Alice has returned her key: it hangs in slot 4).
    fn finished_run() -> Run {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/happy_take_and_return.ron");
        let s = crate::scenario::load_file(std::path::Path::new(path)).expect("loads");
        let mut run = Run::new(s, RunOptions::default());
        while run.step() {}
        run
    }

    #[test]
    fn a_clean_run_breaks_no_invariant() {
        assert_eq!(finished_run().invariant_failures(), Vec::<String>::new());
    }

    #[test]
    fn a_key_that_moves_without_the_controller_knowing_is_caught() {
        let mut run = finished_run();
        let item = run.plants[0].hooks[4].take().expect("the key is back in slot 4");
        run.users[0].hand.push(item);
        let failures = run.invariant_failures();
        assert!(failures.iter().any(|f| f.contains("invariant registry: key-1")), "{failures:?}");
    }

    #[test]
    fn a_duplicated_or_vanished_key_is_caught() {
        let mut run = finished_run();
        let copy = run.plants[0].hooks[4].clone().expect("the key is back in slot 4");
        run.users[0].hand.push(copy);
        assert!(run.invariant_failures().iter().any(|f| f.contains("key-1 is in 2 places")));
        run.users[0].hand.clear();
        run.plants[0].hooks[4] = None;
        assert!(run.invariant_failures().iter().any(|f| f.contains("key-1 is in 0 places")));
    }

    #[test]
    fn a_take_without_photos_or_under_a_foreign_contract_is_caught() {
        let run = finished_run();
        let mut journal = run.electronics.journal().clone();
        let mut records = journal.recover().expect("readable").records;
        for r in &mut records {
            if let Event::KeyFetched { contract, images, .. } = &mut r.event {
                images.before = None;
                *contract = ContractId(99);
            }
        }
        // Rechained so that only the two planted faults are found, not a broken chain.
        let mut chain = controller::audit::Chain::default();
        let rechained: Vec<_> = records.into_iter().map(|r| chain.append(r.at, r.event)).collect();
        let mut run = run;
        run.electronics.replace_journal_for_test(&rechained);
        let failures = run.invariant_failures();
        assert!(failures.iter().any(|f| f.contains("invariant images: key-1 taken")), "{failures:?}");
        assert!(failures.iter().any(|f| f.contains("invariant entitlement: key-1")), "{failures:?}");
    }

    #[test]
    fn a_fleet_key_the_controller_does_not_know_is_caught() {
        let mut run = finished_run();
        let mut unknown = run.scenario.keys[0].clone();
        unknown.id = 99;
        run.scenario.keys.push(unknown);
        let failures = run.invariant_failures();
        assert!(
            failures.iter().any(|f| f.contains("invariant registry: key-99 is unknown to the controller")),
            "{failures:?}"
        );
    }

    #[test]
    fn a_refused_code_without_the_users_photo_is_caught() {
        let run = finished_run();
        let mut records = run.electronics.journal().clone().recover().expect("readable").records;
        let last = records.last().expect("records").clone();
        let refused = Event::CodeRefused {
            automat: AutomatId(1),
            reason: controller::event::Refusal::Ended,
            contracts: Vec::new(),
            attempts: 0,
            photo: None,
        };
        records.push(controller::audit::Record { event: refused, ..last });
        let mut chain = controller::audit::Chain::default();
        let rechained: Vec<_> = records.into_iter().map(|r| chain.append(r.at, r.event)).collect();
        let mut run = run;
        run.electronics.replace_journal_for_test(&rechained);
        let failures = run.invariant_failures();
        assert!(
            failures
                .iter()
                .any(|f| f.contains("invariant images: a code refused (Ended) without the user's photo")),
            "{failures:?}"
        );
    }

    #[test]
    fn a_key_taken_by_someone_whose_code_opened_no_session_is_caught() {
        let mut run = finished_run();
        assert!(run.taken.iter().all(|t| t.owner == Some(t.user)), "{:?}", run.taken);
        let mut theft = run.taken[0].clone();
        theft.owner = None;
        run.taken.push(theft);
        let failures = run.invariant_failures();
        assert!(
            failures
                .iter()
                .any(|f| f.contains("invariant hands: alice took key-1") && f.contains("nobody's code")),
            "{failures:?}"
        );
    }
}
