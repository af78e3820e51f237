//! A fake automat at the message level (board, plant, cameras and a user's hands) around a
//! real controller, in virtual time, with the controller's records kept in a memory journal.
#![allow(dead_code, unreachable_pub, clippy::panic)]

use std::collections::VecDeque;
use std::time::Duration;

use controller::alerts::AlertKind;
use controller::api::NewContract;
use controller::audit::Record;
use controller::ids::*;
use controller::journal::{FsyncPolicy, Journal, MemJournal};
use controller::model::*;
use controller::{BoardPairing, Camera, Controller, ControllerConfig, Input, KeypadKey, Output};
use firmware_proto::auth::{PairingKey, pairing_proof};
use firmware_proto::host::{BoardToHost, HostToBoard};
use firmware_proto::types::{Capabilities, FirmwareVersion, IndicatorMode, TagId};
use image::{Rgb, RgbImage};
use jiff::Timestamp;

pub const A: AutomatId = AutomatId(1);
pub const BOARD_ID: u32 = 77;
pub const PAIRING: PairingKey = PairingKey([7; 32]);

/// Something that can hang on a hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item {
    /// The key it is, if it is one of ours.
    pub key: Option<KeyId>,
    /// Its tag, if it has one.
    pub tag: Option<TagId>,
    /// Its fob's look: an index into the palette.
    pub look: u8,
}

const PALETTE: [[u8; 3]; 8] = [
    [200, 40, 40],
    [40, 60, 200],
    [40, 170, 60],
    [220, 200, 40],
    [160, 60, 200],
    [240, 140, 30],
    [30, 190, 200],
    [230, 230, 230],
];

/// The internal camera's view of a slot: grey wall, hook, the item's fob (disc or long tag by
/// look, colour by look).
pub fn render(item: Option<Item>, light: f32, dx: i32) -> RgbImage {
    let mut img = RgbImage::from_pixel(96, 96, Rgb([90, 90, 96]));
    for y in 0..96i32 {
        for x in 0..96i32 {
            let hook = (x - 48).abs() <= 1 && (10..40).contains(&y);
            let fob = item.is_some_and(|i| {
                let (cx, cy) = (48 + dx, 56);
                if i.look % 2 == 0 {
                    (x - cx).pow(2) + (y - cy).pow(2) <= 15 * 15
                } else {
                    (x - cx).abs() <= 24 && (y - cy).abs() <= 8
                }
            });
            let colour = if hook {
                [200, 200, 200]
            } else if fob {
                PALETTE[usize::from(item.map_or(0, |i| i.look)) % PALETTE.len()]
            } else {
                continue;
            };
            img.put_pixel(x as u32, y as u32, Rgb(colour));
        }
    }
    for p in img.pixels_mut() {
        p.0 = p.0.map(|c| (f32::from(c) * light).min(255.0) as u8);
    }
    img
}

/// Board, plant and user of one automat, at the message level.
pub struct FakeAutomat {
    pub slots: Vec<Option<Item>>,
    pub window: u8,
    pub door_open: bool,
    pub unlocked_until: Option<Timestamp>,
    pub hand: Vec<Item>,
    pub tag_reader_ok: bool,
    pub camera_ok: bool,
    pub presented: Vec<u8>,
    pub unlocks: u32,
    pub stall_forever: bool,
    /// Indicator modes as driven: Ready, Busy, Fault, Window.
    pub leds: [IndicatorMode; 4],
}

impl FakeAutomat {
    pub fn new(slots: u8) -> Self {
        FakeAutomat {
            slots: vec![None; usize::from(slots)],
            window: 0,
            door_open: false,
            unlocked_until: None,
            hand: Vec::new(),
            tag_reader_ok: true,
            camera_ok: true,
            presented: Vec::new(),
            unlocks: 0,
            stall_forever: false,
            leds: [IndicatorMode::Off; 4],
        }
    }

    fn at_window(&self) -> Option<Item> {
        self.slots[usize::from(self.window)]
    }
}

/// A controller and one fake automat.
pub struct World {
    pub now: Timestamp,
    pub ctl: Controller,
    pub automat: FakeAutomat,
    pub journal: MemJournal,
    pub records: Vec<Record>,
    pub display: Vec<String>,
    pub pins: Vec<(ContractId, Pin)>,
    inbox: VecDeque<Input>,
    pub light: f32,
    /// The PIN typed last (for the presentation invariant).
    pub last_pin: Option<String>,
    /// Items hung by the user of the current session.
    pub hung: Vec<Item>,
    /// Presentations of a key to someone not entitled to take it.
    pub violations: Vec<String>,
    /// Records that came before anything the world was told (an API result, a screen line, a
    /// board command, a capture): a power cut must not lose them.
    pub acked: usize,
    /// At every output, as a power cut then would find things: the journal's durable bytes
    /// and the records acknowledged.
    pub cut_points: Vec<(usize, usize)>,
    /// Contracts the API created, each with the number of cut points before its result was
    /// acknowledged: a cut at any later point must keep it.
    pub contracts_acked: Vec<(usize, ContractId)>,
}

pub fn config() -> ControllerConfig {
    ControllerConfig::new([3; 32], 42, vec![BoardPairing { automat: A, board_id: BOARD_ID, key: PAIRING }])
}

pub fn t0() -> Timestamp {
    "2026-06-01T08:00:00Z".parse().expect("valid")
}

pub fn key(id: u32, slot: u8) -> Key {
    Key {
        id: KeyId(id),
        name: format!("Key {id}"),
        tag: Some(TagId(0xA000 + u64::from(id))),
        shared: false,
        return_code: None,
        storage: Storage::Slot { automat: A, slot },
        reference: None,
        daily_deadline: None,
    }
}

pub fn item_of(k: &Key) -> Item {
    Item { key: Some(k.id), tag: k.tag, look: (k.id.0 % 8) as u8 }
}

impl World {
    /// A controller with automat A (30 slots), contacts 1..=3, and the given keys enrolled in
    /// their slots with reference images; the board has said hello.
    pub fn new(keys: Vec<Key>) -> Self {
        Self::with_config(config(), keys)
    }

    pub fn with_config(cfg: ControllerConfig, keys: Vec<Key>) -> Self {
        Self::with_journal(cfg, keys, FsyncPolicy::Always)
    }

    /// As [`World::with_config`], the journal syncing by `policy`.
    pub fn with_journal(cfg: ControllerConfig, keys: Vec<Key>, policy: FsyncPolicy) -> Self {
        let now = t0();
        let ctl = Controller::new(cfg, now);
        let mut w = World {
            now,
            ctl,
            automat: FakeAutomat::new(30),
            journal: MemJournal::new(policy),
            records: Vec::new(),
            display: Vec::new(),
            pins: Vec::new(),
            inbox: VecDeque::new(),
            light: 1.0,
            last_pin: None,
            hung: Vec::new(),
            violations: Vec::new(),
            acked: 0,
            cut_points: Vec::new(),
            contracts_acked: Vec::new(),
        };
        let automat =
            Automat { id: A, name: "Lobby".into(), slots: 30, location: Location { lat: 60.17, lon: 24.94 } };
        w.ctl.add_automat(now, automat).expect("automat");
        for c in 1..=3 {
            w.ctl
                .add_contact(now, Contact { id: ContactId(c), name: format!("Contact {c}") })
                .expect("contact");
        }
        for k in keys {
            let Storage::Slot { slot, .. } = k.storage else { panic!("test keys live in slots") };
            let item = item_of(&k);
            w.automat.slots[usize::from(slot)] = Some(item);
            let id = k.id;
            w.ctl.enrol_key(now, k).expect("enrol");
            w.ctl.set_key_reference(now, id, &render(Some(item), 1.0, 0)).expect("reference");
        }
        w.pump();
        w
    }

    /// Creates a contract and remembers its PIN (once its record is durable: acknowledged).
    #[track_caller]
    pub fn contract(&mut self, new: NewContract) -> (ContractId, String) {
        let (id, pin) = self.ctl.create_contract(self.now, new).expect("contract");
        self.acknowledge();
        self.contracts_acked.push((self.cut_points.len(), id));
        let digits = pin.expose().to_string();
        self.pins.push((id, pin));
        self.pump();
        (id, digits)
    }

    /// Makes everything an API call committed durable, as a driver must before it reports the
    /// call's result.
    pub fn acknowledge(&mut self) {
        self.pump();
        if self.ctl.durable() < self.ctl.committed() {
            self.sync();
        }
        assert!(self.ctl.durable() >= self.ctl.committed(), "an acknowledged call is durable");
        self.acked = self.records.len();
        self.cut_points.push((self.journal.synced_len(), self.acked));
    }

    fn sync(&mut self) {
        self.journal.sync().expect("journal");
        self.ctl.journal_synced(self.journal.synced());
    }

    /// Runs the controller's outputs and the fake automat's answers until both are quiet;
    /// the journal syncs whenever an output waits for it (group commit).
    pub fn pump(&mut self) {
        loop {
            while let Some(out) = self.ctl.poll_output() {
                self.on_output(out);
            }
            if self.ctl.awaiting_sync().is_some() {
                self.sync();
                continue;
            }
            match self.inbox.pop_front() {
                Some(input) => self.ctl.handle(self.now, input),
                None => return,
            }
        }
    }

    fn on_output(&mut self, out: Output) {
        if !matches!(out, Output::Record(_)) {
            // The world is told something: everything recorded before it is acknowledged.
            self.acked = self.records.len();
        }
        match out {
            Output::Record(r) => {
                self.journal.append(&r).expect("journal");
                self.ctl.journal_synced(self.journal.synced());
                self.records.push(r);
            }
            Output::Display { text, .. } => self.display.push(text),
            Output::Capture { automat, camera, id, .. } => {
                let image = match camera {
                    Camera::Front => Some(RgbImage::from_pixel(8, 8, Rgb([120, 100, 90]))),
                    Camera::Internal if self.automat.camera_ok => {
                        Some(render(self.automat.at_window(), self.light, 2))
                    }
                    Camera::Internal => None,
                };
                self.inbox.push_back(Input::Image { automat, id, image });
            }
            Output::ToBoard { message, .. } => self.board(message),
        }
        self.cut_points.push((self.journal.synced_len(), self.acked));
    }

    fn report(&mut self, message: BoardToHost) {
        self.inbox.push_back(Input::Board { automat: A, message });
    }

    fn board(&mut self, message: HostToBoard) {
        let f = &mut self.automat;
        match message {
            HostToBoard::Hello { challenge, .. } => {
                let proof = pairing_proof(&PAIRING, BOARD_ID, &challenge);
                self.report(BoardToHost::Hello {
                    protocol: 1,
                    board_id: BOARD_ID,
                    firmware: FirmwareVersion { major: 1, minor: 0, patch: 0 },
                    slot_count: 30,
                    capabilities: Capabilities::REFERENCE,
                    last_counter: 0,
                    proof,
                });
            }
            HostToBoard::PresentSlot { slot, .. } => {
                if f.stall_forever {
                    self.report(BoardToHost::PresentFailed {
                        slot,
                        fault: firmware_proto::types::MotorFault::HomingFailed,
                    });
                    return;
                }
                f.window = slot;
                f.presented.push(slot);
                self.check_presentation(slot);
                let f = &mut self.automat;
                let occupied = f.at_window().is_some();
                self.report(BoardToHost::SlotPresented { slot, occupied });
            }
            HostToBoard::UnlockDoor { window_ms, .. } => {
                f.unlocks += 1;
                f.unlocked_until = Some(self.now + Duration::from_millis(u64::from(window_ms)));
                self.report(BoardToHost::DoorUnlocked { window_ms });
            }
            HostToBoard::ReadTag => {
                let tag = if f.tag_reader_ok { f.at_window().and_then(|i| i.tag) } else { None };
                let slot = Some(f.window);
                self.report(BoardToHost::TagRead { slot, tag });
            }
            HostToBoard::SetIndicator { indicator, mode } => f.leds[indicator.index()] = mode,
            _ => {}
        }
    }

    /// Nobody is presented a slot holding a key they may not take (their own wrong item, being
    /// taken back, excepted).
    fn check_presentation(&mut self, slot: u8) {
        let Some(item) = self.automat.slots[usize::from(slot)] else { return };
        if self.hung.contains(&item) {
            return;
        }
        let Some(key) = item.key else { return };
        let now = self.now;
        let reg = self.ctl.registry();
        let entitled = self.last_pin.as_ref().is_some_and(|typed| {
            self.pins.iter().filter(|(_, p)| p.expose() == typed).any(|(id, _)| {
                reg.contract(*id).is_some_and(|c| {
                    !c.revoked
                        && c.covers(now)
                        && c.schedule.as_ref().is_none_or(|s| s.allows(now))
                        && c.purpose != Purpose::Return
                        && c.keys.contains(&key)
                })
            })
        });
        if !entitled {
            self.violations
                .push(format!("{key} in slot {slot} presented to PIN {:?} at {now}", self.last_pin));
        }
    }

    /// Lets virtual time pass, firing the controller's and the fake board's timers.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.pump();
            let board = self.automat.unlocked_until;
            let next = [self.ctl.poll_timeout(), board].into_iter().flatten().filter(|t| *t <= end).min();
            let Some(t) = next else { break };
            self.now = self.now.max(t);
            if self.automat.unlocked_until.is_some_and(|u| u <= self.now) {
                self.automat.unlocked_until = None;
                self.report(BoardToHost::UnlockExpired);
            }
            self.ctl.handle_timeout(self.now);
        }
        self.now = end;
        self.ctl.handle_timeout(end);
        self.pump();
    }

    pub fn press(&mut self, keys: &str) {
        for c in keys.chars() {
            let key = match c {
                '*' => KeypadKey::Star,
                '#' => KeypadKey::Enter,
                'C' => KeypadKey::Cancel,
                d => KeypadKey::Digit(d.to_digit(10).expect("digit") as u8),
            };
            self.ctl.handle(self.now, Input::Keypad { automat: A, key });
            self.pump();
            self.now += Duration::from_millis(300);
        }
    }

    /// Types a PIN and Enter.
    pub fn enter_pin(&mut self, pin: &str) {
        self.last_pin = Some(pin.to_string());
        self.hung.clear();
        self.press(pin);
        self.press("#");
    }

    pub fn open_door(&mut self) -> bool {
        if self.automat.unlocked_until.take().is_none() {
            return false;
        }
        self.automat.door_open = true;
        self.report(BoardToHost::DoorOpened);
        self.pump();
        true
    }

    pub fn take(&mut self) -> Option<Item> {
        let w = usize::from(self.automat.window);
        let item = self.automat.slots[w].take()?;
        self.automat.hand.push(item);
        let slot = self.automat.window;
        self.report(BoardToHost::Occupancy { slot, occupied: false });
        self.pump();
        Some(item)
    }

    pub fn hang(&mut self, item: Item) {
        let w = usize::from(self.automat.window);
        self.automat.hand.retain(|i| *i != item);
        self.automat.slots[w] = Some(item);
        self.hung.push(item);
        let slot = self.automat.window;
        self.report(BoardToHost::Occupancy { slot, occupied: true });
        self.pump();
    }

    pub fn close_door(&mut self) {
        self.automat.door_open = false;
        self.report(BoardToHost::DoorClosed);
        self.pump();
    }

    /// A whole take: PIN, open, take, close.
    #[track_caller]
    pub fn take_with(&mut self, pin: &str) -> Vec<Item> {
        self.enter_pin(pin);
        let mut taken = Vec::new();
        while self.open_door() {
            if let Some(i) = self.take() {
                taken.push(i);
            }
            self.advance(Duration::from_secs(2));
            self.close_door();
            self.advance(Duration::from_secs(1));
        }
        taken
    }

    /// A whole return of `item`: PIN, open, hang, close.
    pub fn return_with(&mut self, pin: &str, item: Item) {
        self.enter_pin(pin);
        assert!(self.open_door(), "door unlocked for the return: {:?}", self.display);
        self.hang(item);
        self.advance(Duration::from_secs(2));
        self.close_door();
        self.advance(Duration::from_secs(1));
    }

    pub fn location(&self, key: KeyId) -> KeyLocation {
        self.ctl.registry().key(key).expect("known key").location
    }

    pub fn open_alerts(&self) -> Vec<AlertKind> {
        self.ctl.registry().alerts().map(|a| a.kind).collect()
    }

    pub fn events(&self) -> Vec<String> {
        self.records.iter().map(|r| format!("{:?}", r.event)).collect()
    }
}
