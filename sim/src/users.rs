//! The people at the automats, scripted by the scenario. A high-level intent ("take with this
//! PIN", "return this key") becomes a list of acts that wait for the automat the way a person
//! does: type, wait for the latch, open, take or hang, close, read the screen.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use firmware_proto::Instant;

use crate::plant::Item;
use crate::scenario::{ItemRef, OnWrong};

/// One thing a user does.
#[derive(Clone, Debug, PartialEq)]
pub enum Act {
    /// Presses one keypad key (`0`–`9`, `*`, `#`, `C`).
    Key(char),
    /// Waits for the latch to release; gives up the rest of the intent after `timeout`.
    WaitUnlock(Duration),
    /// Pulls the door open (`true`: forces it).
    Open(bool),
    /// Takes what hangs at the window.
    Take,
    /// Hangs an item.
    Hang(ItemRef),
    /// Shuts the door.
    Close,
    /// Waits.
    Pause(Duration),
    /// After a take: if the latch releases again soon, takes the next key too.
    TakeMore,
    /// After a return: if the screen said the key is wrong, reacts.
    CheckWrong {
        /// How.
        on_wrong: OnWrong,
        /// What to hang after taking the wrong item back.
        then: Option<ItemRef>,
    },
}

/// How long a person takes between steps.
pub const REACTION: Duration = Duration::from_secs(1);
/// Between key presses.
pub const KEY_GAP: Duration = Duration::from_millis(250);

/// A person.
#[derive(Clone, Debug)]
pub struct User {
    /// Their name.
    pub name: String,
    /// The automat they use (index).
    pub automat: usize,
    /// What they hold.
    pub hand: Vec<Item>,
    /// Foreign items they carry, by name.
    pub carries: BTreeMap<String, Item>,
    /// What they will do.
    pub acts: VecDeque<Act>,
    /// Not before this.
    pub ready_at: Instant,
    /// When the current wait began.
    pub waiting_since: Option<Instant>,
    /// Display lines seen since the current intent began (index into the automat's display log).
    pub display_mark: usize,
}

impl User {
    /// A user at automat `automat`.
    pub fn new(name: String, automat: usize, carries: BTreeMap<String, Item>) -> Self {
        User {
            name,
            automat,
            hand: Vec::new(),
            carries,
            acts: VecDeque::new(),
            ready_at: Instant::ZERO,
            waiting_since: None,
            display_mark: 0,
        }
    }

    /// Keys for a code, then Enter.
    pub fn type_code(&mut self, keys: &str) {
        for c in keys.chars() {
            self.acts.push_back(Act::Key(c));
            self.acts.push_back(Act::Pause(KEY_GAP));
        }
    }

    /// Waits up to `wait` for the latch, opens, takes what hangs there, closes.
    pub fn take_once(&mut self, wait: Duration) {
        self.acts.extend([
            Act::WaitUnlock(wait),
            Act::Open(false),
            Act::Pause(REACTION),
            Act::Take,
            Act::Pause(REACTION),
            Act::Close,
            Act::Pause(REACTION),
        ]);
    }

    /// One round of a take, then a look for the next key of the bundle.
    pub fn take_round(&mut self, wait: Duration) {
        self.take_once(wait);
        self.acts.push_back(Act::TakeMore);
    }

    /// The take intent after the code.
    pub fn plan_take(&mut self) {
        self.take_round(Duration::from_secs(40));
    }

    /// Waits for the latch, opens, hangs `item`, closes.
    pub fn hang_once(&mut self, item: ItemRef) {
        self.acts.extend([
            Act::WaitUnlock(Duration::from_secs(40)),
            Act::Open(false),
            Act::Pause(REACTION),
            Act::Hang(item),
            Act::Pause(REACTION * 2),
            Act::Close,
        ]);
    }

    /// The return intent after the code.
    pub fn plan_return(&mut self, item: ItemRef, on_wrong: OnWrong, then: Option<ItemRef>) {
        self.hang_once(item);
        self.acts.extend([Act::Pause(REACTION * 2), Act::CheckWrong { on_wrong, then }]);
    }

    /// When the user next wants to act (or to stop waiting).
    pub fn next_event(&self) -> Option<Instant> {
        match self.acts.front()? {
            Act::WaitUnlock(timeout) => {
                Some(self.waiting_since.map_or(self.ready_at, |s| s + *timeout).max(self.ready_at))
            }
            _ => Some(self.ready_at),
        }
    }

    /// Takes `item` out of the hand (a fleet key by id, or a carried item by name).
    pub fn take_from_hand(&mut self, item: &ItemRef) -> Option<Item> {
        match item {
            ItemRef::Key(id) => {
                let i = self.hand.iter().position(|x| x.key.is_some_and(|k| k.0 == *id))?;
                Some(self.hand.remove(i))
            }
            ItemRef::Item(name) => self.carries.remove(name).or_else(|| {
                let i = self.hand.iter().position(|x| x.key.is_none())?;
                Some(self.hand.remove(i))
            }),
        }
    }
}
