//! Allocation: which slots to present, in which order, and where a returned key goes.
//!
//! The carousel turns both ways, so the cost of going from slot `a` to slot `b` on an
//! `n`-slot carousel is the shorter arc, `min(|a − b|, n − |a − b|)` slots. A presentation plan
//! visits every slot of the session once, starting where the carousel stands; it is the order
//! with the least total travel: exhaustive for up to [`EXACT_UP_TO`] slots (every user session
//! in practice), nearest-first beyond.

use crate::ids::Slot;

/// Plans of up to this many slots are searched exhaustively.
pub const EXACT_UP_TO: usize = 7;

/// Slots between `a` and `b`, the shorter way round.
pub fn travel(n: u8, a: Slot, b: Slot) -> u32 {
    let d = u32::from(a.abs_diff(b));
    d.min(u32::from(n) - d)
}

/// The order to present `targets` in, starting from `from`, and its total travel in slots.
/// Duplicates are visited once.
pub fn plan(n: u8, from: Slot, targets: &[Slot]) -> (Vec<Slot>, u32) {
    let mut slots: Vec<Slot> = targets.to_vec();
    slots.sort_unstable();
    slots.dedup();
    if slots.len() <= EXACT_UP_TO {
        let mut best = (slots.clone(), u32::MAX);
        permute(n, from, &mut slots, 0, &mut best);
        best
    } else {
        greedy(n, from, slots)
    }
}

fn cost(n: u8, from: Slot, order: &[Slot]) -> u32 {
    let mut here = from;
    order.iter().map(|&s| core::mem::replace(&mut here, s)).zip(order).map(|(a, &b)| travel(n, a, b)).sum()
}

fn permute(n: u8, from: Slot, slots: &mut Vec<Slot>, k: usize, best: &mut (Vec<Slot>, u32)) {
    if k == slots.len() {
        let c = cost(n, from, slots);
        if c < best.1 {
            *best = (slots.clone(), c);
        }
        return;
    }
    for i in k..slots.len() {
        slots.swap(k, i);
        permute(n, from, slots, k + 1, best);
        slots.swap(k, i);
    }
}

fn greedy(n: u8, from: Slot, mut left: Vec<Slot>) -> (Vec<Slot>, u32) {
    let mut order = Vec::with_capacity(left.len());
    let mut here = from;
    let mut total = 0;
    while !left.is_empty() {
        let (i, d) = left
            .iter()
            .enumerate()
            .map(|(i, &s)| (i, travel(n, here, s)))
            .min_by_key(|&(i, d)| (d, i))
            .unwrap_or((0, 0));
        here = left.remove(i);
        total += d;
        order.push(here);
    }
    (order, total)
}

/// The slot a returning key goes to: `own` if it is free, else the free slot nearest to it
/// (the lower-numbered one on a tie); `None` when every slot is taken.
pub fn return_slot(n: u8, own: Slot, is_free: impl Fn(Slot) -> bool) -> Option<Slot> {
    if is_free(own) {
        return Some(own);
    }
    (0..n).filter(|&s| is_free(s)).min_by_key(|&s| (travel(n, own, s), s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn travel_is_the_shorter_arc() {
        assert_eq!(travel(30, 0, 29), 1);
        assert_eq!(travel(30, 3, 28), 5);
        assert_eq!(travel(30, 0, 15), 15);
        assert_eq!(travel(30, 7, 7), 0);
    }

    #[test]
    fn a_bundle_either_side_of_the_window_turns_back_once() {
        // From 0 to slots 2, 27 and 28: up to 2, then back past 0 to 28 and 27 (2 + 4 + 1),
        // not 2 → 27 → 28 (2 + 5 + 1) nor the long way round.
        let (order, cost) = plan(30, 0, &[28, 2, 27]);
        assert_eq!(cost, 2 + 4 + 1);
        assert_eq!(order, [2, 28, 27]);
    }

    #[test]
    fn return_goes_to_the_nearest_free_slot() {
        let taken = [5u8, 6, 4];
        let free = |s: Slot| !taken.contains(&s);
        assert_eq!(return_slot(30, 9, free), Some(9));
        assert_eq!(return_slot(30, 5, free), Some(3));
        assert_eq!(return_slot(3, 0, |_| false), None);
    }

    proptest! {
        #[test]
        fn plan_is_never_worse_than_any_order(from in 0u8..30, targets in proptest::collection::vec(0u8..30, 1..6), shuffle in any::<u64>()) {
            let (order, c) = plan(30, from, &targets);
            let mut other = order.clone();
            let k = other.len();
            other.rotate_left((shuffle as usize) % k);
            prop_assert!(c <= cost(30, from, &other));
            let mut sorted = targets.clone();
            sorted.sort_unstable();
            sorted.dedup();
            let mut visited = order.clone();
            visited.sort_unstable();
            prop_assert_eq!(visited, sorted);
        }
    }
}
