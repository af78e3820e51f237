//! The controller's API: what a back office (or a scenario) asks of it, validated as real
//! key automat systems validate it.

use image::RgbImage;
use jiff::Timestamp;

use crate::alerts::AlertKind;
use crate::controller::{Controller, after};
use crate::event::Event;
use crate::fleet;
use crate::ids::*;
use crate::model::*;
use crate::pin;
use crate::registry::{ApiError, SlotContent};
use crate::schedule::AccessSchedule;
use crate::verify::Signature;

/// A contract to create.
#[derive(Clone, Debug)]
pub struct NewContract {
    /// The automat whose keypad will take the PIN.
    pub automat: AutomatId,
    /// The keys.
    pub keys: Vec<KeyId>,
    /// The contacts.
    pub contacts: Vec<ContactId>,
    /// From when; `None` is now.
    pub start: Option<Timestamp>,
    /// Until when; `None` is permanent.
    pub end: Option<Timestamp>,
    /// A PIN to use, or `None` to generate one.
    pub pin: Option<String>,
    /// What it allows.
    pub purpose: Purpose,
    /// Weekly windows on top of the range.
    pub schedule: Option<AccessSchedule>,
}

impl NewContract {
    /// A fetch-and-return contract for `keys` and `contacts` from now, permanent, PIN generated.
    pub fn new(automat: AutomatId, keys: Vec<KeyId>, contacts: Vec<ContactId>) -> Self {
        NewContract {
            automat,
            keys,
            contacts,
            start: None,
            end: None,
            pin: None,
            purpose: Purpose::FetchAndReturn,
            schedule: None,
        }
    }
}

/// Changes to a contract; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ContractChange {
    /// New end (`Some(None)`: permanent).
    pub end: Option<Option<Timestamp>>,
    /// New contacts.
    pub contacts: Option<Vec<ContactId>>,
    /// New keys.
    pub keys: Option<Vec<KeyId>>,
    /// New schedule (`Some(None)`: none).
    pub schedule: Option<Option<AccessSchedule>>,
}

/// A reservation pushed by a third-party system.
#[derive(Clone, Debug)]
pub struct Reservation {
    /// The entity reserved (an apartment, a car).
    pub entity: String,
    /// Who.
    pub contacts: Vec<ContactId>,
    /// From when.
    pub start: Timestamp,
    /// Until when.
    pub end: Timestamp,
    /// The device group that serves the entity.
    pub group: DeviceGroupId,
    /// Where the user will come from, for choosing the nearest automat.
    pub near: Option<Location>,
}

/// What a reservation became.
#[derive(Clone, Debug)]
pub struct ReservationOutcome {
    /// Its number.
    pub reservation: u32,
    /// The automat chosen.
    pub automat: AutomatId,
    /// The contracts made, with their PINs: one fetch-and-return contract, or a fetch
    /// contract then a return contract for a long reservation.
    pub contracts: Vec<(ContractId, Pin)>,
}

/// The items in their first order, each once.
fn dedup<T: PartialEq + Copy>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

impl Controller {
    /// Adds an automat to the fleet.
    pub fn add_automat(&mut self, now: Timestamp, automat: Automat) -> Result<(), ApiError> {
        self.handle_timeout(now);
        if self.registry.automat(automat.id).is_some() {
            return Err(ApiError::Duplicate(automat.id.to_string()));
        }
        self.commit(Event::AutomatAdded(automat));
        Ok(())
    }

    /// Adds a contact.
    pub fn add_contact(&mut self, now: Timestamp, contact: Contact) -> Result<(), ApiError> {
        self.handle_timeout(now);
        if self.registry.contact(contact.id).is_some() {
            return Err(ApiError::Duplicate(contact.id.to_string()));
        }
        self.commit(Event::ContactAdded(contact));
        Ok(())
    }

    /// Enrols a key into its storage (its slot must be free).
    pub fn enrol_key(&mut self, now: Timestamp, key: Key) -> Result<(), ApiError> {
        self.handle_timeout(now);
        if self.registry.key(key.id).is_some() {
            return Err(ApiError::Duplicate(key.id.to_string()));
        }
        if let Storage::Slot { automat, slot } = key.storage {
            let a = self.registry.automat(automat).ok_or(ApiError::UnknownAutomat(automat))?;
            if slot >= a.slots || self.registry.slot(automat, slot).is_some() {
                return Err(ApiError::SlotUnavailable { automat, slot });
            }
        }
        self.commit(Event::KeyEnrolled(key));
        Ok(())
    }

    /// Sets a key's reference image (its slot, photographed with the key on the hook by its
    /// automat's internal camera, judged against that camera's plate if it has one).
    pub fn set_key_reference(
        &mut self,
        now: Timestamp,
        key: KeyId,
        image: &RgbImage,
    ) -> Result<(), ApiError> {
        self.handle_timeout(now);
        let storage = self.registry.key(key).ok_or(ApiError::UnknownKey(key))?.key.storage;
        let reference = match storage {
            Storage::Slot { automat, .. } => self.signature(automat, image),
            Storage::Manual => Signature::of(image),
        };
        self.commit(Event::KeyReferenceSet { key, reference });
        Ok(())
    }

    /// Defines a device group.
    pub fn add_device_group(&mut self, now: Timestamp, group: DeviceGroup) -> Result<(), ApiError> {
        self.handle_timeout(now);
        if let Some(&a) = group.automats.iter().find(|a| self.registry.automat(**a).is_none()) {
            return Err(ApiError::UnknownAutomat(a));
        }
        for (_, keys) in &group.entities {
            if let Some(&k) = keys.iter().find(|k| self.registry.key(**k).is_none()) {
                return Err(ApiError::UnknownKey(k));
            }
        }
        self.commit(Event::DeviceGroupAdded(group));
        Ok(())
    }

    fn pin_for(
        &mut self,
        automat: AutomatId,
        given: Option<&str>,
        except: Option<ContractId>,
    ) -> Result<(Pin, PinDigest), ApiError> {
        match given {
            Some(p) => {
                let pin = Pin::parse(p).ok_or(ApiError::InvalidPin)?;
                let digest = self.pins.digest(automat, &pin);
                if self.registry.pin_in_use(self.now, automat, digest, except) {
                    return Err(ApiError::PinInUse);
                }
                Ok((pin, digest))
            }
            None => loop {
                let pin = pin::generate(&mut self.rng);
                let digest = self.pins.digest(automat, &pin);
                if !self.registry.pin_in_use(self.now, automat, digest, except) {
                    return Ok((pin, digest));
                }
            },
        }
    }

    /// Creates a key contract; returns its id and PIN (the only time the PIN is seen).
    pub fn create_contract(
        &mut self,
        now: Timestamp,
        new: NewContract,
    ) -> Result<(ContractId, Pin), ApiError> {
        self.create_contract_in(now, new, None, None)
    }

    fn create_contract_in(
        &mut self,
        now: Timestamp,
        new: NewContract,
        reservation: Option<u32>,
        booked_until: Option<Timestamp>,
    ) -> Result<(ContractId, Pin), ApiError> {
        self.handle_timeout(now);
        self.registry.automat(new.automat).ok_or(ApiError::UnknownAutomat(new.automat))?;
        let mut contract = KeyContract {
            id: self.registry.next_contract_id(),
            automat: new.automat,
            keys: dedup(new.keys),
            contacts: dedup(new.contacts),
            start: new.start.unwrap_or(now),
            end: new.end,
            purpose: new.purpose,
            schedule: new.schedule,
            pin: PinDigest([0; 16]), // set below, once the rest is checked
            revoked: false,
            reservation,
            booked_until,
        };
        // Check everything but the PIN first, so a bad request does not use up randomness.
        let lockers = self.registry.check_contract(now, &contract, None)?;
        let (pin, digest) = self.pin_for(contract.automat, new.pin.as_deref(), None)?;
        contract.pin = digest;
        let id = contract.id;
        self.commit(Event::ContractCreated { contract, lockers });
        self.schedule_fetch_end(id);
        Ok((id, pin))
    }

    /// Changes a contract's end, contacts, keys or schedule.
    pub fn update_contract(
        &mut self,
        now: Timestamp,
        id: ContractId,
        change: ContractChange,
    ) -> Result<(), ApiError> {
        self.handle_timeout(now);
        let mut c = self.registry.contract(id).ok_or(ApiError::UnknownContract(id))?.clone();
        if let Some(end) = change.end {
            c.end = end;
        }
        if let Some(contacts) = change.contacts {
            c.contacts = dedup(contacts);
        }
        if let Some(keys) = change.keys {
            c.keys = dedup(keys);
        }
        if let Some(schedule) = change.schedule {
            c.schedule = schedule;
        }
        self.registry.check_contract(now, &c, Some(id))?;
        let keys = c.keys.clone();
        self.commit(Event::ContractUpdated(c));
        for key in keys {
            if self.registry.holder(key) == Some(id) {
                self.schedule_overdue(key);
            }
        }
        Ok(())
    }

    /// Deletes a contract (refused while one of its keys is out under it).
    pub fn delete_contract(&mut self, now: Timestamp, id: ContractId) -> Result<(), ApiError> {
        self.handle_timeout(now);
        self.registry.check_delete(id)?;
        self.commit(Event::ContractDeleted(id));
        Ok(())
    }

    /// Gives a contract a new generated PIN.
    pub fn regenerate_pin(&mut self, now: Timestamp, id: ContractId) -> Result<Pin, ApiError> {
        self.handle_timeout(now);
        let automat = self.registry.contract(id).ok_or(ApiError::UnknownContract(id))?.automat;
        let (pin, digest) = self.pin_for(automat, None, Some(id))?;
        self.commit(Event::PinRegenerated { contract: id, pin: digest });
        Ok(pin)
    }

    /// Revokes every contract of a contact at once (an HR termination), effective
    /// immediately; raises `RevokedKeyOut` for each of their keys that is out.
    pub fn revoke_contact(
        &mut self,
        now: Timestamp,
        contact: ContactId,
    ) -> Result<Vec<ContractId>, ApiError> {
        self.handle_timeout(now);
        self.registry.contact(contact).ok_or(ApiError::UnknownContact(contact))?;
        let contracts = self.registry.contracts_of_contact(contact);
        self.commit(Event::ContactRevoked { contact, contracts: contracts.clone() });
        for &id in &contracts {
            let Some(c) = self.registry.contract(id).cloned() else { continue };
            for key in c.keys {
                if self.registry.holder(key) == Some(id) {
                    let name = self.registry.key(key).map(|e| e.key.name.clone()).unwrap_or_default();
                    self.raise(
                        AlertKind::RevokedKeyOut,
                        Some(c.automat),
                        Some(key),
                        Some(id),
                        format!("{name} is out with a revoked contact"),
                    );
                }
            }
        }
        Ok(contracts)
    }

    /// Lends a slot to contacts for a time range.
    pub fn create_locker_contract(
        &mut self,
        now: Timestamp,
        automat: AutomatId,
        slot: Slot,
        contacts: Vec<ContactId>,
        start: Timestamp,
        end: Option<Timestamp>,
    ) -> Result<LockerContractId, ApiError> {
        self.handle_timeout(now);
        let a = self.registry.automat(automat).ok_or(ApiError::UnknownAutomat(automat))?;
        if slot >= a.slots
            || matches!(self.registry.slot(automat, slot), Some(SlotContent::Key(_) | SlotContent::Unknown))
        {
            return Err(ApiError::SlotUnavailable { automat, slot });
        }
        if let Some(&c) = contacts.iter().find(|c| self.registry.contact(**c).is_none()) {
            return Err(ApiError::UnknownContact(c));
        }
        if start < now {
            return Err(ApiError::StartInPast);
        }
        let overlapping = self.registry.lockers().any(|l| {
            l.automat == automat
                && l.slot == slot
                && end.is_none_or(|e| l.start < e)
                && l.end.is_none_or(|e| start < e)
        });
        if overlapping {
            return Err(ApiError::SlotUnavailable { automat, slot });
        }
        let id = LockerContractId(self.registry.lockers().map(|l| l.id.0 + 1).max().unwrap_or(0));
        self.commit(Event::LockerContractCreated(LockerContract {
            id,
            automat,
            slot,
            contacts,
            start,
            end,
            key_contract: None,
        }));
        Ok(id)
    }

    /// Resolves a reservation to contracts at the nearest automat of its device group that has
    /// a key for the entity available; a reservation longer than `split_after` becomes a fetch
    /// contract at its start and a return contract at its end.
    pub fn create_reservation(
        &mut self,
        now: Timestamp,
        r: Reservation,
    ) -> Result<ReservationOutcome, ApiError> {
        self.handle_timeout(now);
        let group = self.registry.group(r.group).ok_or(ApiError::UnknownDeviceGroup(r.group))?.clone();
        let keys: Vec<KeyId> =
            group.entities.iter().filter(|(e, _)| *e == r.entity).flat_map(|(_, k)| k.clone()).collect();
        let (automat, key) = fleet::choose(&self.registry, &group.automats, &keys, r.near, r.start, r.end)
            .ok_or_else(|| ApiError::NoKeyAvailable(r.entity.clone()))?;
        let number = self.registry.next_reservation();
        let long = r.end.duration_since(r.start)
            > jiff::SignedDuration::try_from(self.cfg.split_after).unwrap_or(jiff::SignedDuration::MAX);
        let base = NewContract {
            automat,
            keys: vec![key],
            contacts: r.contacts.clone(),
            start: Some(r.start),
            end: Some(r.end),
            pin: None,
            purpose: Purpose::FetchAndReturn,
            schedule: None,
        };
        let mut contracts = Vec::new();
        if long {
            let fetch_end = after(r.start, self.cfg.fetch_window);
            let return_start = r.end.saturating_sub(self.cfg.return_window).unwrap_or(r.start).max(fetch_end);
            let fetch = NewContract { end: Some(fetch_end), purpose: Purpose::Fetch, ..base.clone() };
            contracts.push(self.create_contract_in(now, fetch, Some(number), Some(return_start))?);
            let ret = NewContract { start: Some(return_start), purpose: Purpose::Return, ..base };
            match self.create_contract_in(now, ret, Some(number), None) {
                Ok(c) => contracts.push(c),
                Err(e) => {
                    // Leave nothing half made.
                    let _ = self.delete_contract(now, contracts[0].0);
                    return Err(e);
                }
            }
        } else {
            contracts.push(self.create_contract_in(now, base, Some(number), None)?);
        }
        Ok(ReservationOutcome { reservation: number, automat, contracts })
    }
}
