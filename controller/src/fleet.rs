//! The fleet: choosing the automat that serves a reservation.
//!
//! Among the automats of a device group, the candidates are those that store a key for the
//! entity that is free for the reservation's range (in its slot, no overlapping contract if
//! not shared). The nearest to the user's location wins; ties, and reservations without a
//! location, go to the automat with the most free slots, then the lowest id.

use jiff::Timestamp;

use crate::ids::*;
use crate::model::{KeyLocation, Location, Storage};
use crate::registry::Registry;

/// The automat and key chosen, or `None` when no automat of the group can serve.
pub fn choose(
    registry: &Registry,
    automats: &[AutomatId],
    keys: &[KeyId],
    near: Option<Location>,
    start: Timestamp,
    end: Timestamp,
) -> Option<(AutomatId, KeyId)> {
    let mut best: Option<(f64, std::cmp::Reverse<usize>, AutomatId, KeyId)> = None;
    for &key in keys {
        let Some(entry) = registry.key(key) else { continue };
        let Storage::Slot { automat, .. } = entry.key.storage else { continue };
        if !automats.contains(&automat) || !matches!(entry.location, KeyLocation::Stored(_)) {
            continue;
        }
        let busy = !entry.key.shared
            && registry
                .contracts_of_key(key)
                .iter()
                .any(|c| registry.contract(*c).is_some_and(|c| !c.revoked && c.overlaps(start, Some(end))));
        if busy {
            continue;
        }
        let Some(a) = registry.automat(automat) else { continue };
        let distance = near.map_or(0.0, |n| n.distance_m(&a.location));
        let candidate = (distance, std::cmp::Reverse(registry.free_slots(automat)), automat, key);
        if best.as_ref().is_none_or(|b| candidate.partial_cmp(b) == Some(std::cmp::Ordering::Less)) {
            best = Some(candidate);
        }
    }
    best.map(|(_, _, a, k)| (a, k))
}
