//! The people at the automats, scripted by the scenario. A high-level intent ("take with this
//! PIN", "return this key") becomes a list of acts that wait for the automat the way a person
//! does: type, wait for the latch, open, take or hang, close, read the screen.
//!
//! People queue: someone who comes to an automat while another person is busy there waits
//! until that person is done (the queue is in the trace), unless the scenario makes them
//! `impatient`. A person takes keys only from a door their own code opened, unless the
//! scenario tells them to grab (`Grab`, a theft).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use controller::{Input, KeypadKey};
use firmware_proto::Instant;

use super::Run;
use super::record::describe;
use crate::expect::Observation;
use crate::plant::Item;
use crate::plant::look::Person;
use crate::scenario::{self, Action, Code, ItemRef, OnWrong};
use crate::trace::TraceEvent;

/// One thing a user does.
#[derive(Clone, Debug, PartialEq)]
pub enum Act {
    /// Presses one keypad key (`0`–`9`, `*`, `#`, `C`).
    Key(char),
    /// Waits for the latch to release; gives up the rest of the intent after `timeout`.
    WaitUnlock(Duration),
    /// Pulls the door open (`true`: forces it).
    Open(bool),
    /// Takes what hangs at the window, if the door was opened for them (`true`: whatever hangs
    /// there, whoever opened it: a theft).
    Take(bool),
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
    /// The automat's screen line count when the current intent began: later lines are news.
    pub display_mark: u64,
    /// Does not queue: types while someone else is busy at the automat.
    pub impatient: bool,
    /// Intents waiting for their turn at the automat.
    pub pending: VecDeque<Intent>,
    /// How they look to the front camera.
    pub look: Person,
}

/// What a person came to the automat to do: the keys they type, then what they do.
#[derive(Clone, Debug, PartialEq)]
pub struct Intent {
    /// The keys typed (the code and Enter).
    pub keys: String,
    /// What follows.
    pub plan: Plan,
}

/// What a person does after typing.
#[derive(Clone, Debug, PartialEq)]
pub enum Plan {
    /// Nothing (they only type).
    Type,
    /// Takes every key presented.
    Take,
    /// Hangs an item; reacts when told it is wrong.
    Return {
        /// What.
        item: ItemRef,
        /// The reaction.
        on_wrong: OnWrong,
        /// What they hang after taking a wrong item back.
        then: Option<ItemRef>,
    },
}

impl User {
    /// A user at automat `automat`.
    pub fn new(name: String, automat: usize, carries: BTreeMap<String, Item>, look: Person) -> Self {
        User {
            name,
            automat,
            hand: Vec::new(),
            carries,
            acts: VecDeque::new(),
            ready_at: Instant::ZERO,
            waiting_since: None,
            display_mark: 0,
            impatient: false,
            pending: VecDeque::new(),
            look,
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
            Act::Take(false),
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

    /// Whether they are doing something (or waiting for the automat to let them).
    pub fn busy(&self) -> bool {
        !self.acts.is_empty()
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

/// A fleet key taken off a hook, for the hands invariant: who took it, and whose code opened
/// the session it was taken in.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Taken {
    /// When.
    pub at: Instant,
    /// Who took it (user index).
    pub user: usize,
    /// The key.
    pub key: u32,
    /// Which automat (index).
    pub automat: usize,
    /// The user whose code opened the session then, if any.
    pub owner: Option<usize>,
}

impl Run {
    /// A timeline step that concerns the people.
    pub(super) fn user_step(&mut self, action: Action) {
        match action {
            Action::Take { user, code } => self.intend(&user, &code, Plan::Take),
            Action::Return { user, code, item, on_wrong, then } => {
                self.intend(&user, &code, Plan::Return { item, on_wrong, then })
            }
            Action::Press { user, keys } => {
                if let Some(u) = self.user(&user) {
                    self.arrive(u, Intent { keys, plan: Plan::Type });
                }
            }
            Action::OpenDoor { user, force } => self.push_act(&user, Act::Open(force)),
            Action::CloseDoor { user } => self.push_act(&user, Act::Close),
            Action::TakeKey { user } => self.push_act(&user, Act::Take(false)),
            Action::Grab { user } => self.push_act(&user, Act::Take(true)),
            Action::Hang { user, item } => self.push_act(&user, Act::Hang(item)),
            Action::Give { from, to, key } => self.give(&from, &to, key),
            _ => {}
        }
    }

    fn intend(&mut self, user: &str, code: &Code, plan: Plan) {
        let Some(u) = self.user(user) else {
            self.problem(format!("no user {user:?}"));
            return;
        };
        if let Some(keys) = self.code_keys(code) {
            self.arrive(u, Intent { keys, plan });
        }
    }

    fn give(&mut self, from: &str, to: &str, key: u32) {
        let (Some(f), Some(t)) = (self.user(from), self.user(to)) else {
            self.problem(format!("give: no user {from:?} or {to:?}"));
            return;
        };
        match self.users[f].take_from_hand(&ItemRef::Key(key)) {
            Some(item) => {
                self.emit(TraceEvent::User { user: from.into(), act: format!("gives key {key} to {to}") });
                self.users[t].hand.push(item);
            }
            None if self.scenario.improvise => self.emit(TraceEvent::User {
                user: from.into(),
                act: format!("cannot give key {key}: does not hold it"),
            }),
            None => self.problem(format!("give: {from} does not hold key {key}")),
        }
    }

    /// User `u` comes to their automat to do `intent`: now, if nobody else is busy there (or
    /// they do not wait for anyone), else at the back of the queue.
    fn arrive(&mut self, u: usize, intent: Intent) {
        let i = self.users[u].automat;
        if self.users[u].impatient {
            self.begin(u, intent);
            return;
        }
        let queue = &mut self.queues[i];
        match queue.front() {
            None => {
                queue.push_back(u);
                self.show_queue(i);
                self.begin(u, intent);
            }
            Some(&front) if front == u => self.begin(u, intent),
            Some(_) => {
                self.users[u].pending.push_back(intent);
                if !queue.contains(&u) {
                    queue.push_back(u);
                    self.show_queue(i);
                }
            }
        }
    }

    /// Whoever is served at automat `i` and done leaves; the next in the queue steps up.
    fn serve_queue(&mut self, i: usize) -> bool {
        let mut progress = false;
        while let Some(&front) = self.queues[i].front() {
            if self.users[front].busy() {
                break;
            }
            if let Some(intent) = self.users[front].pending.pop_front() {
                self.begin(front, intent);
                self.users[front].ready_at = self.now + REACTION;
                progress = true;
                break;
            }
            self.queues[i].pop_front();
            self.show_queue(i);
            progress = true;
        }
        progress
    }

    fn show_queue(&mut self, i: usize) {
        let users = self.queues[i].iter().map(|&u| self.users[u].name.clone()).collect();
        self.emit(TraceEvent::Queue { automat: i, users });
    }

    fn begin(&mut self, u: usize, intent: Intent) {
        let now = self.now;
        let automat = self.users[u].automat;
        let mark = self.screens[automat].lines;
        let user = &mut self.users[u];
        user.acts.clear();
        user.ready_at = now;
        user.waiting_since = None;
        user.display_mark = mark;
        user.type_code(&intent.keys);
        match intent.plan {
            Plan::Type => {}
            Plan::Take => user.plan_take(),
            Plan::Return { item, on_wrong, then } => user.plan_return(item, on_wrong, then),
        }
        self.last_user[automat] = Some(self.users[u].name.clone());
    }

    /// Rig mode: the harness types the code; the person at the rig does the rest.
    pub(super) fn type_only(&mut self, user: &str, code: &Code) {
        if let Some(keys) = self.code_keys(code) {
            self.type_keys(user, &keys);
        }
    }

    /// Rig mode: the harness types keys.
    pub(super) fn type_keys(&mut self, user: &str, keys: &str) {
        if let Some(u) = self.user(user) {
            self.begin(u, Intent { keys: keys.into(), plan: Plan::Type });
        }
    }

    fn press(&mut self, i: usize, c: char) {
        let key = match c {
            '*' => KeypadKey::Star,
            '#' => KeypadKey::Enter,
            'C' => KeypadKey::Cancel,
            d => match d.to_digit(10) {
                Some(d) => KeypadKey::Digit(d as u8),
                None => return,
            },
        };
        let automat = self.automats[i];
        self.electronics.controller_input(self.now, Input::Keypad { automat, key });
    }

    fn code_keys(&mut self, code: &Code) -> Option<String> {
        match code {
            Code::Pin(p) => Some(format!("{p}#")),
            Code::ReturnCode(c) => Some(format!("*{c}#")),
            Code::ContractPin(name) => match self.pins.get(name) {
                Some(p) => Some(format!("{p}#")),
                None => {
                    self.problem(format!("no PIN for contract {name:?} (was it created?)"));
                    None
                }
            },
        }
    }

    pub(super) fn user(&self, name: &str) -> Option<usize> {
        self.users.iter().position(|u| u.name == name)
    }

    fn push_act(&mut self, user: &str, act: Act) {
        if let Some(u) = self.user(user) {
            let now = self.now;
            let u = &mut self.users[u];
            u.ready_at = u.ready_at.max(now);
            u.acts.push_back(act);
        }
    }

    /// What the users can do now; returns whether anyone did something.
    pub(super) fn phase_users(&mut self) -> bool {
        let mut progress = false;
        for u in 0..self.users.len() {
            progress |= self.user_act(u);
        }
        for i in 0..self.queues.len() {
            progress |= self.serve_queue(i);
        }
        progress
    }

    /// Lets user `u` do what they can now; returns whether anything happened.
    fn user_act(&mut self, u: usize) -> bool {
        let mut progress = false;
        loop {
            let user = &self.users[u];
            if user.ready_at > self.now {
                return progress;
            }
            let Some(act) = user.acts.front().cloned() else { return progress };
            match act {
                Act::WaitUnlock(timeout) => return self.wait_unlock(u, timeout) || progress,
                Act::TakeMore => {
                    self.users[u].acts.pop_front();
                    // Another key of the bundle: the latch releases again within a few seconds.
                    self.users[u].take_round(Duration::from_secs(15));
                    progress = true;
                    continue;
                }
                _ => {}
            }
            self.users[u].acts.pop_front();
            progress = true;
            self.act(u, act);
        }
    }

    /// Waiting for the latch: goes on once it releases, gives up after `timeout`.
    fn wait_unlock(&mut self, u: usize, timeout: Duration) -> bool {
        let now = self.now;
        let i = self.users[u].automat;
        let since = *self.users[u].waiting_since.get_or_insert(now);
        if self.plants[i].door.releases() && !self.plants[i].door.open {
            self.users[u].waiting_since = None;
            self.users[u].acts.pop_front();
            self.users[u].ready_at = now + REACTION;
            return true;
        }
        if now >= since + timeout {
            let user = self.users[u].name.clone();
            self.emit(TraceEvent::User { user, act: "gives up waiting for the door".into() });
            self.users[u].acts.clear();
            self.users[u].waiting_since = None;
            return true;
        }
        false
    }

    fn act(&mut self, u: usize, act: Act) {
        let now = self.now;
        let i = self.users[u].automat;
        let name = self.users[u].name.clone();
        match act {
            Act::Key(c) => {
                self.emit(TraceEvent::User { user: name, act: "presses a key".into() });
                self.press(i, c);
            }
            Act::Pause(d) => self.users[u].ready_at = now + d,
            Act::Open(force) => {
                let opened = self.plants[i].open_door(now, force);
                let what = if force { "forces the door" } else { "opens the door" };
                let act = format!("{what}: {}", if opened { "open" } else { "it does not open" });
                self.emit(TraceEvent::User { user: name, act });
                if !opened && !force {
                    self.users[u].acts.clear();
                }
            }
            Act::Close => {
                if self.plants[i].close_door(now) {
                    self.emit(TraceEvent::User { user: name, act: "closes the door".into() });
                }
            }
            Act::Take(grab) => self.take(u, grab),
            Act::Hang(item) => self.hang(u, &item),
            Act::CheckWrong { on_wrong, then } => self.check_wrong(u, on_wrong, then),
            Act::WaitUnlock(_) | Act::TakeMore => {}
        }
    }

    /// Takes what hangs at the window: only from a session the user's own code opened, unless
    /// they grab.
    fn take(&mut self, u: usize, grab: bool) {
        let (now, i) = (self.now, self.users[u].automat);
        let name = self.users[u].name.clone();
        let owner = self.owners[i];
        if !grab && owner != Some(u) && self.plants[i].at_window(now).is_some() {
            let act = "leaves what hangs at the window: the door was not opened for them".into();
            self.emit(TraceEvent::User { user: name, act });
            return;
        }
        match self.plants[i].take(now) {
            Some(item) => {
                self.emit(TraceEvent::User { user: name.clone(), act: format!("takes {}", describe(&item)) });
                let key = item.key.map(|k| k.0);
                if let Some(key) = key {
                    self.taken.push(Taken { at: now, user: u, key, automat: i, owner });
                }
                self.observe(Observation::Took { user: name, key });
                self.users[u].hand.push(item);
            }
            None => self.emit(TraceEvent::User { user: name, act: "finds nothing to take".into() }),
        }
    }

    fn hang(&mut self, u: usize, item: &ItemRef) {
        let (now, i) = (self.now, self.users[u].automat);
        let name = self.users[u].name.clone();
        let Some(it) = self.users[u].take_from_hand(item) else {
            if self.scenario.improvise {
                self.emit(TraceEvent::User { user: name, act: format!("has no {item:?} to hang") });
            } else {
                self.problem(format!("{name} does not hold {item:?}"));
            }
            return;
        };
        let desc = describe(&it);
        let key = it.key.map(|k| k.0);
        match self.plants[i].hang(now, it) {
            Ok(()) => {
                self.emit(TraceEvent::User { user: name.clone(), act: format!("hangs {desc}") });
                let named = match item {
                    ItemRef::Item(n) => Some(n.clone()),
                    ItemRef::Key(_) => None,
                };
                self.observe(Observation::Hung { user: name, key, item: named });
            }
            Err(it) => {
                self.users[u].hand.push(it);
                self.emit(TraceEvent::User { user: name, act: format!("cannot hang {desc}") });
            }
        }
    }

    /// After a return: if the screen said the key is wrong, reacts as the scenario says.
    fn check_wrong(&mut self, u: usize, on_wrong: OnWrong, then: Option<ItemRef>) {
        let i = self.users[u].automat;
        let name = self.users[u].name.clone();
        let mark = self.users[u].display_mark;
        let told = self.screens[i].wrong_key.is_some_and(|line| line > mark);
        if !told {
            return;
        }
        if on_wrong == scenario::OnWrong::TakeBack {
            let act = "was told the key is wrong: takes it back".into();
            self.emit(TraceEvent::User { user: name, act });
            let user = &mut self.users[u];
            user.take_once(Duration::from_secs(40));
            if let Some(then) = then {
                user.hang_once(then);
            }
        } else {
            let act = "was told the key is wrong: walks away".into();
            self.emit(TraceEvent::User { user: name, act });
        }
    }
}
