//! The controller's durable state — automats, keys, contacts, contracts, who holds which key,
//! what hangs in which slot, open alerts — and the API's validation rules.
//!
//! The registry changes only by [`Registry::apply`]ing an [`Event`]; the API methods check a
//! request and return the event that carries it out. Replaying the journal's events therefore
//! rebuilds exactly the state that produced them.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::alerts::Alert;
use crate::event::Event;
use crate::ids::*;
use crate::model::*;

/// A key and where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyEntry {
    /// The key.
    pub key: Key,
    /// Where it is now.
    pub location: KeyLocation,
}

/// What hangs on a slot's hook, as far as the controller knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotContent {
    /// A known key.
    Key(KeyId),
    /// Something left there that is not identified.
    Unknown,
}

/// Why an API request was refused. The messages follow what real key automat APIs answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No automat with this id.
    #[error("unknown automat {0}")]
    UnknownAutomat(AutomatId),
    /// No key with this id.
    #[error("unknown key {0}")]
    UnknownKey(KeyId),
    /// No contact with this id.
    #[error("unknown contact {0}")]
    UnknownContact(ContactId),
    /// No contract with this id.
    #[error("unknown contract {0}")]
    UnknownContract(ContractId),
    /// No device group with this id.
    #[error("unknown device group {0}")]
    UnknownDeviceGroup(DeviceGroupId),
    /// An id is in use already.
    #[error("{0} exists already")]
    Duplicate(String),
    /// A contract needs at least one key and one contact.
    #[error("a contract needs at least one key and one contact")]
    Empty,
    /// The key is not stored in this automat.
    #[error("{key} is not stored in {automat}")]
    KeyNotInAutomat {
        /// The key.
        key: KeyId,
        /// The contract's automat.
        automat: AutomatId,
    },
    /// A not-shared key has a contract for an overlapping range.
    #[error("Overlapping contract existing ({existing} on {key})")]
    Overlapping {
        /// The key.
        key: KeyId,
        /// The contract in the way.
        existing: ContractId,
    },
    /// Another live contract at this automat has this PIN.
    #[error("Pincode already used in existing contracts")]
    PinInUse,
    /// The PIN is not 4 to 8 digits.
    #[error("a PIN is 4 to 8 digits")]
    InvalidPin,
    /// The start lies in the past.
    #[error("Start time should be in the future")]
    StartInPast,
    /// The end is not after the start.
    #[error("end must be after start")]
    EndBeforeStart,
    /// The contract's key is out; it cannot be deleted until it is back.
    #[error("{key} of {contract} is fetched and not returned")]
    KeyOut {
        /// The contract.
        contract: ContractId,
        /// The key.
        key: KeyId,
    },
    /// The slot is taken by another key or out of range.
    #[error("slot {slot} of {automat} is not available")]
    SlotUnavailable {
        /// The automat.
        automat: AutomatId,
        /// The slot.
        slot: Slot,
    },
    /// No automat of the group has a key for the entity available.
    #[error("no automat of the group has a key for {0:?} available")]
    NoKeyAvailable(String),
    /// A time zone or schedule was invalid.
    #[error("invalid schedule: {0}")]
    Schedule(String),
}

/// A contract's range in the per-key index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    start: Timestamp,
    end: Option<Timestamp>,
    id: ContractId,
}

/// The durable state. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Registry {
    automats: BTreeMap<AutomatId, Automat>,
    keys: BTreeMap<KeyId, KeyEntry>,
    contacts: BTreeMap<ContactId, Contact>,
    contracts: BTreeMap<ContractId, KeyContract>,
    lockers: BTreeMap<LockerContractId, LockerContract>,
    groups: BTreeMap<DeviceGroupId, DeviceGroup>,
    slots: BTreeMap<(AutomatId, Slot), SlotContent>,
    by_key: BTreeMap<KeyId, Vec<ContractId>>,
    /// Ranges of the non-revoked contracts of each key, sorted by start: on a not-shared key
    /// they never overlap, so a new range need only be checked against its two neighbours.
    spans: BTreeMap<KeyId, Vec<Span>>,
    by_pin: BTreeMap<(AutomatId, PinDigest), Vec<ContractId>>,
    by_contact: BTreeMap<ContactId, Vec<ContractId>>,
    alerts: BTreeMap<AlertId, Alert>,
    next_contract: u32,
    next_locker: u32,
    next_alert: u32,
    next_reservation: u32,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    // ---- queries ----

    /// An automat.
    pub fn automat(&self, id: AutomatId) -> Option<&Automat> {
        self.automats.get(&id)
    }

    /// Every automat.
    pub fn automats(&self) -> impl Iterator<Item = &Automat> {
        self.automats.values()
    }

    /// A key and where it is.
    pub fn key(&self, id: KeyId) -> Option<&KeyEntry> {
        self.keys.get(&id)
    }

    /// Every key.
    pub fn keys(&self) -> impl Iterator<Item = &KeyEntry> {
        self.keys.values()
    }

    /// A contact.
    pub fn contact(&self, id: ContactId) -> Option<&Contact> {
        self.contacts.get(&id)
    }

    /// A contract.
    pub fn contract(&self, id: ContractId) -> Option<&KeyContract> {
        self.contracts.get(&id)
    }

    /// Every contract.
    pub fn contracts(&self) -> impl Iterator<Item = &KeyContract> {
        self.contracts.values()
    }

    /// Every locker contract.
    pub fn lockers(&self) -> impl Iterator<Item = &LockerContract> {
        self.lockers.values()
    }

    /// A device group.
    pub fn group(&self, id: DeviceGroupId) -> Option<&DeviceGroup> {
        self.groups.get(&id)
    }

    /// The contracts whose PIN has this digest at this automat (live or not).
    pub fn contracts_with_pin(&self, automat: AutomatId, pin: PinDigest) -> &[ContractId] {
        self.by_pin.get(&(automat, pin)).map_or(&[], Vec::as_slice)
    }

    /// The contracts of a key.
    pub fn contracts_of_key(&self, key: KeyId) -> &[ContractId] {
        self.by_key.get(&key).map_or(&[], Vec::as_slice)
    }

    /// What hangs in a slot.
    pub fn slot(&self, automat: AutomatId, slot: Slot) -> Option<SlotContent> {
        self.slots.get(&(automat, slot)).copied()
    }

    /// Every occupied slot of an automat.
    pub fn occupied_slots(&self, automat: AutomatId) -> impl Iterator<Item = (Slot, SlotContent)> + '_ {
        self.slots.range((automat, 0)..=(automat, u8::MAX)).map(|(&(_, s), &c)| (s, c))
    }

    /// Free slots of an automat.
    pub fn free_slots(&self, automat: AutomatId) -> usize {
        let total = self.automats.get(&automat).map_or(0, |a| usize::from(a.slots));
        total.saturating_sub(self.occupied_slots(automat).count())
    }

    /// The open alerts.
    pub fn alerts(&self) -> impl Iterator<Item = &Alert> {
        self.alerts.values()
    }

    /// An open alert.
    pub fn alert(&self, id: AlertId) -> Option<&Alert> {
        self.alerts.get(&id)
    }

    /// The id the next alert will get.
    pub fn next_alert_id(&self) -> AlertId {
        AlertId(self.next_alert)
    }

    /// The id the next contract will get.
    pub fn next_contract_id(&self) -> ContractId {
        ContractId(self.next_contract)
    }

    /// A fresh reservation number.
    pub fn next_reservation(&self) -> u32 {
        self.next_reservation
    }

    /// The contract a held key is out under, if it is held.
    pub fn holder(&self, key: KeyId) -> Option<ContractId> {
        match self.keys.get(&key)?.location {
            KeyLocation::Held { contract, .. } => Some(contract),
            KeyLocation::Stored(_) => None,
        }
    }

    /// Checks the registry's invariants: every key is in exactly one place (its slot holds it,
    /// or it is held, or it is at the desk, and no slot claims a key that is elsewhere), and no
    /// two live contracts on a not-shared key overlap. Returns the first violation found.
    pub fn check_invariants(&self) -> Result<(), String> {
        for e in self.keys.values() {
            let k = e.key.id;
            let slots_with_k: Vec<_> =
                self.slots.iter().filter(|(_, c)| **c == SlotContent::Key(k)).map(|(s, _)| *s).collect();
            match e.location {
                KeyLocation::Stored(Storage::Slot { automat, slot }) => {
                    if slots_with_k != [(automat, slot)] {
                        return Err(format!(
                            "{k} is stored in {automat} slot {slot} but slots say {slots_with_k:?}"
                        ));
                    }
                    if e.key.storage != (Storage::Slot { automat, slot }) {
                        return Err(format!("{k} is in a slot that is not its storage"));
                    }
                }
                KeyLocation::Stored(Storage::Manual) | KeyLocation::Held { .. } => {
                    if !slots_with_k.is_empty() {
                        return Err(format!("{k} is {:?} but also in slots {slots_with_k:?}", e.location));
                    }
                }
            }
            if let KeyLocation::Held { contract, .. } = e.location
                && !self.contracts.contains_key(&contract)
            {
                return Err(format!("{k} is held under unknown {contract}"));
            }
            if e.key.shared {
                continue;
            }
            let live: Vec<&KeyContract> = self
                .contracts_of_key(k)
                .iter()
                .map(|id| &self.contracts[id])
                .filter(|c| !c.revoked)
                .collect();
            for (i, a) in live.iter().enumerate() {
                if let Some(b) = live[i + 1..].iter().find(|b| a.overlaps(b.start, b.booked_end())) {
                    return Err(format!("{} and {} overlap on not-shared {k}", a.id, b.id));
                }
            }
        }
        for (&(automat, slot), content) in &self.slots {
            if let SlotContent::Key(k) = content
                && !self.keys.contains_key(k)
            {
                return Err(format!("{automat} slot {slot} holds unknown {k}"));
            }
        }
        Ok(())
    }

    // ---- validation ----

    /// Checks a new or changed contract (`replacing` is the contract it replaces, if any) and
    /// returns the locker contracts it implies. The PIN is checked apart, when it is chosen
    /// ([`Registry::pin_in_use`]).
    pub fn check_contract(
        &self,
        now: Timestamp,
        c: &KeyContract,
        replacing: Option<ContractId>,
    ) -> Result<Vec<LockerContract>, ApiError> {
        if !self.automats.contains_key(&c.automat) {
            return Err(ApiError::UnknownAutomat(c.automat));
        }
        if c.keys.is_empty() || c.contacts.is_empty() {
            return Err(ApiError::Empty);
        }
        if let Some(&contact) = c.contacts.iter().find(|id| !self.contacts.contains_key(id)) {
            return Err(ApiError::UnknownContact(contact));
        }
        if replacing.is_none() && c.start < now {
            return Err(ApiError::StartInPast);
        }
        if c.end.is_some_and(|e| e <= c.start) {
            return Err(ApiError::EndBeforeStart);
        }
        let mut lockers = Vec::new();
        for &key in &c.keys {
            let entry = self.keys.get(&key).ok_or(ApiError::UnknownKey(key))?;
            match entry.key.storage {
                Storage::Slot { automat, slot } if automat == c.automat => lockers.push(LockerContract {
                    id: LockerContractId(self.next_locker + lockers.len() as u32),
                    automat,
                    slot,
                    contacts: c.contacts.clone(),
                    start: c.start,
                    end: c.end,
                    key_contract: Some(c.id),
                }),
                _ => return Err(ApiError::KeyNotInAutomat { key, automat: c.automat }),
            }
            if !entry.key.shared
                && let Some(existing) = self.overlapping(key, c.start, c.booked_end(), replacing)
            {
                return Err(ApiError::Overlapping { key, existing });
            }
        }
        Ok(lockers)
    }

    /// A non-revoked contract of a not-shared key, other than `except`, whose range overlaps
    /// `start..end`: only the nearest span on either side of `start` can.
    fn overlapping(
        &self,
        key: KeyId,
        start: Timestamp,
        end: Option<Timestamp>,
        except: Option<ContractId>,
    ) -> Option<ContractId> {
        let spans = self.spans.get(&key)?;
        let at = spans.partition_point(|s| s.start < start);
        let before = spans[..at].iter().rev().find(|s| Some(s.id) != except);
        let after = spans[at..].iter().find(|s| Some(s.id) != except);
        let hits = |s: &&Span| s.end.is_none_or(|e| start < e) && end.is_none_or(|e| s.start < e);
        before.filter(hits).or(after.filter(hits)).map(|s| s.id)
    }

    fn add_span(&mut self, key: KeyId, span: Span) {
        let spans = self.spans.entry(key).or_default();
        let at = spans.partition_point(|s| (s.start, s.id) < (span.start, span.id));
        spans.insert(at, span);
    }

    fn remove_span(&mut self, key: KeyId, id: ContractId) {
        if let Some(spans) = self.spans.get_mut(&key) {
            spans.retain(|s| s.id != id);
        }
    }

    /// Whether a live contract at `automat` other than `except` has this PIN digest.
    pub fn pin_in_use(
        &self,
        now: Timestamp,
        automat: AutomatId,
        pin: PinDigest,
        except: Option<ContractId>,
    ) -> bool {
        self.contracts_with_pin(automat, pin)
            .iter()
            .any(|&id| Some(id) != except && self.contracts[&id].live_at(now))
    }

    /// Checks that a contract may be deleted: none of its keys is out under it.
    pub fn check_delete(&self, id: ContractId) -> Result<(), ApiError> {
        let c = self.contracts.get(&id).ok_or(ApiError::UnknownContract(id))?;
        for &key in &c.keys {
            if self.holder(key) == Some(id) {
                return Err(ApiError::KeyOut { contract: id, key });
            }
        }
        Ok(())
    }

    /// The contracts revoking `contact` concerns: its contracts that are not revoked yet.
    pub fn contracts_of_contact(&self, contact: ContactId) -> Vec<ContractId> {
        self.by_contact
            .get(&contact)
            .map(|v| v.iter().copied().filter(|id| !self.contracts[id].revoked).collect())
            .unwrap_or_default()
    }

    // ---- change ----

    /// Applies one event that happened at `at`. Events are checked before they are made, so
    /// applying never fails; an event naming something unknown changes nothing.
    pub fn apply(&mut self, at: Timestamp, event: &Event) {
        match event {
            Event::AutomatAdded(a) => {
                self.automats.insert(a.id, a.clone());
            }
            Event::ContactAdded(c) => {
                self.contacts.insert(c.id, c.clone());
            }
            Event::KeyEnrolled(k) => {
                if let Storage::Slot { automat, slot } = k.storage {
                    self.slots.insert((automat, slot), SlotContent::Key(k.id));
                }
                self.keys.insert(k.id, KeyEntry { key: k.clone(), location: KeyLocation::Stored(k.storage) });
            }
            Event::KeyReferenceSet { key, reference } => {
                if let Some(e) = self.keys.get_mut(key) {
                    e.key.reference = Some(reference.clone());
                }
            }
            Event::DeviceGroupAdded(g) => {
                self.groups.insert(g.id, g.clone());
            }
            Event::ContractCreated { contract, lockers } => {
                self.insert_contract(contract.clone());
                for l in lockers {
                    self.next_locker = self.next_locker.max(l.id.0 + 1);
                    self.lockers.insert(l.id, l.clone());
                }
                if let Some(r) = contract.reservation {
                    self.next_reservation = self.next_reservation.max(r + 1);
                }
            }
            Event::ContractUpdated(c) => {
                self.remove_contract(c.id);
                self.insert_contract(c.clone());
                for l in self.lockers.values_mut().filter(|l| l.key_contract == Some(c.id)) {
                    l.start = c.start;
                    l.end = c.end;
                    l.contacts = c.contacts.clone();
                }
            }
            Event::ContractDeleted(id) => {
                self.remove_contract(*id);
                self.lockers.retain(|_, l| l.key_contract != Some(*id));
            }
            Event::PinRegenerated { contract, pin } => {
                if let Some(mut c) = self.remove_contract(*contract) {
                    c.pin = *pin;
                    self.insert_contract(c);
                }
            }
            Event::ContactRevoked { contracts, .. } => {
                for id in contracts {
                    if let Some(c) = self.contracts.get_mut(id) {
                        c.revoked = true;
                        for k in c.keys.clone() {
                            self.remove_span(k, *id);
                        }
                    }
                }
            }
            Event::LockerContractCreated(l) => {
                self.next_locker = self.next_locker.max(l.id.0 + 1);
                self.lockers.insert(l.id, l.clone());
            }
            Event::KeyFetched { key, contract, automat, slot, .. } => {
                if self.slots.get(&(*automat, *slot)) == Some(&SlotContent::Key(*key)) {
                    self.slots.remove(&(*automat, *slot));
                }
                if let Some(e) = self.keys.get_mut(key) {
                    e.location = KeyLocation::Held { contract: *contract, since: at };
                }
            }
            Event::KeyReturned { key, automat, slot, .. } => self.store_key(*key, *automat, *slot),
            Event::WrongItemLeft { automat, slot, found, .. } => match found {
                Some(k) => self.store_key(*k, *automat, *slot),
                None => {
                    self.slots.insert((*automat, *slot), SlotContent::Unknown);
                }
            },
            Event::AlertRaised(a) => {
                self.next_alert = self.next_alert.max(a.id.0 + 1);
                self.alerts.insert(a.id, a.clone());
            }
            Event::AlertCleared { alert } => {
                self.alerts.remove(alert);
            }
            Event::SessionOpened { .. }
            | Event::ReturnCodeUsed { .. }
            | Event::SessionClosed { .. }
            | Event::CodeRefused { .. }
            | Event::Lockout { .. }
            | Event::Board { .. }
            | Event::ControllerStarted { .. } => {}
        }
    }

    /// Puts a key into a slot, which becomes its storage; wherever it was is vacated.
    fn store_key(&mut self, key: KeyId, automat: AutomatId, slot: Slot) {
        let Some(e) = self.keys.get_mut(&key) else { return };
        if let KeyLocation::Stored(Storage::Slot { automat: a, slot: s }) = e.location
            && self.slots.get(&(a, s)) == Some(&SlotContent::Key(key))
        {
            self.slots.remove(&(a, s));
        }
        let storage = Storage::Slot { automat, slot };
        e.key.storage = storage;
        e.location = KeyLocation::Stored(storage);
        self.slots.insert((automat, slot), SlotContent::Key(key));
    }

    fn insert_contract(&mut self, c: KeyContract) {
        self.next_contract = self.next_contract.max(c.id.0 + 1);
        for &k in &c.keys {
            self.by_key.entry(k).or_default().push(c.id);
            if !c.revoked {
                self.add_span(k, Span { start: c.start, end: c.booked_end(), id: c.id });
            }
        }
        for &p in &c.contacts {
            self.by_contact.entry(p).or_default().push(c.id);
        }
        self.by_pin.entry((c.automat, c.pin)).or_default().push(c.id);
        self.contracts.insert(c.id, c);
    }

    fn remove_contract(&mut self, id: ContractId) -> Option<KeyContract> {
        let c = self.contracts.remove(&id)?;
        let drop_from = |v: &mut Vec<ContractId>| v.retain(|&x| x != id);
        for k in &c.keys {
            self.by_key.get_mut(k).map(drop_from);
            self.remove_span(*k, id);
        }
        for p in &c.contacts {
            self.by_contact.get_mut(p).map(drop_from);
        }
        if let Some(v) = self.by_pin.get_mut(&(c.automat, c.pin)) {
            drop_from(v);
            if v.is_empty() {
                self.by_pin.remove(&(c.automat, c.pin));
            }
        }
        Some(c)
    }
}
