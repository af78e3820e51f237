//! The scenario's fleet and API calls, translated into the controller's API: the setup at time
//! 0 (automats, contacts, keys and their reference images, groups, contracts) and the timeline's
//! contract, revocation, PIN and reservation steps. A refusal the scenario expects is checked;
//! any other is a problem of the run.

use controller::api::{NewContract, Reservation};
use controller::ids::*;
use controller::model::{self as cm, Purpose};
use controller::schedule::{AccessSchedule, WeeklyWindow};
use firmware_proto::types::TagId;
use jiff::Timestamp;

use super::{Run, look_of};
use crate::expect::Observation;
use crate::plant::Item;
use crate::run::users::User;
use crate::scenario::{self, Action, ContractSpec};
use crate::trace::{ApiCall, ApiResult, TraceEvent};

impl Run {
    /// A PIN the controller generated for contract `name`: typed later by `ContractPin(name)`.
    fn keep_pin(&mut self, name: String, pin: &controller::model::Pin) {
        self.generated.push(pin.expose().to_string());
        self.pins.insert(name, pin.expose().to_string());
    }

    pub(super) fn automat_index(&self, id: u32) -> Option<usize> {
        self.automats.iter().position(|a| a.0 == id)
    }

    fn item_of(&self, k: &scenario::KeySpec) -> Item {
        Item {
            key: Some(KeyId(k.id)),
            tag: k.tag.as_deref().and_then(scenario::load::tag).map(TagId),
            look: look_of(&k.look),
        }
    }

    pub(super) fn setup(&mut self) {
        let now = self.ts();
        let sc = self.scenario.clone();
        // Each key's enrolment photograph, taken by its automat's internal camera.
        let references: Vec<Result<image::RgbImage, String>> = sc
            .keys
            .iter()
            .map(|k| {
                let slots = sc.automats.iter().find(|a| a.id == k.automat).map_or(0, |a| a.slots);
                self.cameras.reference(slots, k.slot, &look_of(&k.look))
            })
            .collect();
        let Some(ctl) = self.electronics.controller_mut() else { return };
        let mut results = Vec::new();
        let mut lost = Vec::new();
        for a in &sc.automats {
            let automat = cm::Automat {
                id: AutomatId(a.id),
                name: a.name.clone(),
                slots: a.slots,
                location: cm::Location { lat: a.location.0, lon: a.location.1 },
            };
            results.push((ApiCall::AddAutomat { automat: a.id }, ctl.add_automat(now, automat).map(drop)));
        }
        for c in &sc.contacts {
            let contact = cm::Contact { id: ContactId(c.id), name: c.name.clone() };
            results.push((ApiCall::AddContact { contact: c.id }, ctl.add_contact(now, contact).map(drop)));
        }
        for (k, reference) in sc.keys.iter().zip(references) {
            let key = cm::Key {
                id: KeyId(k.id),
                name: if k.name.is_empty() { format!("key {}", k.id) } else { k.name.clone() },
                tag: k.tag.as_deref().and_then(scenario::load::tag).map(TagId),
                shared: k.shared,
                return_code: k.return_code.as_deref().and_then(cm::ReturnCode::parse),
                storage: cm::Storage::Slot { automat: AutomatId(k.automat), slot: k.slot },
                reference: None,
                daily_deadline: k.daily_deadline.as_deref().and_then(scenario::load::clock),
            };
            results.push((ApiCall::EnrolKey { key: k.id }, ctl.enrol_key(now, key).map(drop)));
            match reference {
                Ok(reference) => results.push((
                    ApiCall::ReferenceKey { key: k.id },
                    ctl.set_key_reference(now, KeyId(k.id), &reference).map(drop),
                )),
                Err(e) => lost.push(format!("setup: key {}: its reference image: {e}", k.id)),
            }
        }
        for g in &sc.groups {
            let group = cm::DeviceGroup {
                id: DeviceGroupId(g.id),
                automats: g.automats.iter().map(|a| AutomatId(*a)).collect(),
                entities: g
                    .entities
                    .iter()
                    .map(|(e, ks)| (e.clone(), ks.iter().map(|k| KeyId(*k)).collect()))
                    .collect(),
            };
            results.push((ApiCall::AddGroup { group: g.id }, ctl.add_device_group(now, group).map(drop)));
        }
        for (call, result) in results {
            if let Err(e) = result {
                self.problem(format!("setup: {call}: {e}"));
            }
        }
        for problem in lost {
            self.problem(problem);
        }
        for k in &sc.keys {
            if let Some(i) = self.automat_index(k.automat) {
                let item = self.item_of(k);
                self.plants[i].hooks[usize::from(k.slot)] = Some(item);
            }
        }
        for c in &sc.contracts {
            self.create_contract(c);
        }
        self.add_users(&sc.users);
    }

    /// The people, at their automats, with what they carry.
    fn add_users(&mut self, specs: &[scenario::UserSpec]) {
        for (i, u) in specs.iter().enumerate() {
            let automat = u.automat.and_then(|a| self.automat_index(a)).unwrap_or(0);
            let carries = u
                .carries
                .iter()
                .map(|(name, l)| (name.clone(), Item { key: None, tag: None, look: look_of(l) }))
                .collect();
            let mut user = User::new(u.name.clone(), automat, carries, u.look.person(i));
            user.impatient = u.impatient;
            self.users.push(user);
        }
    }

    fn create_contract(&mut self, c: &ContractSpec) {
        let now = self.ts();
        let at =
            |o: Option<scenario::Offset>| o.map(|o| self.start.saturating_add(o.0).unwrap_or(Timestamp::MAX));
        let schedule = c.schedule.as_ref().and_then(|s| {
            let windows = s
                .windows
                .iter()
                .filter_map(|w| {
                    let days: Vec<_> = w.days.iter().filter_map(|d| scenario::load::weekday(d)).collect();
                    Some(WeeklyWindow::new(
                        &days,
                        scenario::load::clock(&w.from)?,
                        scenario::load::clock(&w.to)?,
                    ))
                })
                .collect();
            AccessSchedule::new(&s.time_zone, windows).ok()
        });
        let new = NewContract {
            automat: AutomatId(c.automat),
            keys: c.keys.iter().map(|k| KeyId(*k)).collect(),
            contacts: c.contacts.iter().map(|k| ContactId(*k)).collect(),
            start: at(c.start).or(Some(now)),
            end: at(c.end),
            pin: c.pin.clone(),
            purpose: Purpose::FetchAndReturn,
            schedule,
        };
        let Some(ctl) = self.electronics.controller_mut() else {
            self.problem(format!("create contract {:?}: the controller is down", c.name));
            return;
        };
        let result = ctl.create_contract(now, new);
        let call = ApiCall::CreateContract { name: c.name.clone() };
        match (result, &c.expect_error) {
            (Ok((id, pin)), None) => {
                self.api_ok(call, ApiResult::contract(id.0));
                self.keep_pin(c.name.clone(), &pin);
                self.contracts.insert(c.name.clone(), id);
            }
            (Ok((id, _)), Some(want)) => {
                self.api_ok(call.clone(), ApiResult::contract(id.0));
                self.problem(format!("{call}: expected the error {want:?}, but it was created as {id}"));
            }
            (Err(e), want) => self.api_refused(call, &e, want.as_deref()),
        }
    }

    /// A timeline step that calls the API.
    pub(super) fn api_step(&mut self, action: Action) {
        match action {
            Action::CreateContract(c) => self.create_contract(&c),
            Action::DeleteContract { name, expect_error } => {
                let Some(&id) = self.contracts.get(&name) else {
                    self.problem(format!("delete contract: no contract {name:?}"));
                    return;
                };
                let ts = self.ts();
                let result = self.electronics.controller_mut().map(|c| c.delete_contract(ts, id));
                self.api_result(
                    ApiCall::DeleteContract { name },
                    result.map(|r| r.map(|()| ApiResult::DONE)),
                    expect_error,
                );
            }
            Action::RevokeContact { contact } => {
                let ts = self.ts();
                let result =
                    self.electronics.controller_mut().map(|c| c.revoke_contact(ts, ContactId(contact)));
                let done = |ids: Vec<ContractId>| ApiResult::Ok {
                    contract: None,
                    contracts: ids.into_iter().map(|c| c.0).collect(),
                    automat: None,
                };
                self.api_result(ApiCall::RevokeContact { contact }, result.map(|r| r.map(done)), None);
            }
            Action::RegeneratePin { name } => {
                let Some(&id) = self.contracts.get(&name) else {
                    self.problem(format!("regenerate PIN: no contract {name:?}"));
                    return;
                };
                let ts = self.ts();
                match self.electronics.controller_mut().map(|c| c.regenerate_pin(ts, id)) {
                    Some(Ok(pin)) => {
                        self.keep_pin(name.clone(), &pin);
                        self.api_ok(ApiCall::RegeneratePin { name }, ApiResult::DONE);
                    }
                    other => self.api_result(
                        ApiCall::RegeneratePin { name },
                        other.map(|r| r.map(|_| ApiResult::DONE)),
                        None,
                    ),
                }
            }
            Action::Reservation(r) => self.reservation(&r),
            _ => {}
        }
    }

    /// A reservation pushed through the API; its contracts get their handles.
    fn reservation(&mut self, r: &scenario::ReservationSpec) {
        let ts = self.ts();
        let at = |o: scenario::Offset| self.start.saturating_add(o.0).unwrap_or(Timestamp::MAX);
        let res = Reservation {
            entity: r.entity.clone(),
            contacts: r.contacts.iter().map(|c| ContactId(*c)).collect(),
            start: at(r.start),
            end: at(r.end),
            group: DeviceGroupId(r.group),
            near: r.near.map(|(lat, lon)| cm::Location { lat, lon }),
        };
        match self.electronics.controller_mut().map(|c| c.create_reservation(ts, res)) {
            Some(Ok(outcome)) => {
                let names: Vec<String> = if outcome.contracts.len() == 2 {
                    vec![format!("{}/fetch", r.name), format!("{}/return", r.name)]
                } else {
                    vec![r.name.clone()]
                };
                let ids = outcome.contracts.iter().map(|(id, _)| id.0).collect();
                for (name, (id, pin)) in names.into_iter().zip(outcome.contracts) {
                    self.keep_pin(name.clone(), &pin);
                    self.contracts.insert(name, id);
                }
                let result =
                    ApiResult::Ok { contract: None, contracts: ids, automat: Some(outcome.automat.0) };
                self.api_ok(ApiCall::Reservation { name: r.name.clone() }, result);
                if let Some(want) = r.expect_automat
                    && outcome.automat.0 != want
                {
                    self.problem(format!(
                        "reservation {:?}: chose automat {}, expected {want}",
                        r.name, outcome.automat.0
                    ));
                }
            }
            other => self.api_result(
                ApiCall::Reservation { name: r.name.clone() },
                other.map(|r| r.map(|_| ApiResult::DONE)),
                None,
            ),
        }
    }

    fn api_result(
        &mut self,
        call: ApiCall,
        result: Option<Result<ApiResult, controller::registry::ApiError>>,
        expect_error: Option<String>,
    ) {
        match (result, expect_error) {
            // An API call while the power is out fails, as a real one would; improvising
            // scenarios (the swarm's) may meet that, written ones are told.
            (None, _) if self.scenario.improvise => {
                self.emit(TraceEvent::Api { call, result: ApiResult::Unavailable })
            }
            (None, _) => self.problem(format!("{call}: the controller is down")),
            (Some(Ok(v)), None) => self.api_ok(call, v),
            (Some(Ok(_)), Some(want)) => {
                self.problem(format!("{call}: expected the error {want:?}, but it succeeded"))
            }
            (Some(Err(e)), want) => self.api_refused(call, &e, want.as_deref()),
        }
    }

    /// An API call succeeded: its result is reported (traced) once what it committed is
    /// durable, as a real API answers only then.
    fn api_ok(&mut self, call: ApiCall, result: ApiResult) {
        let mut out = Vec::new();
        self.electronics.acknowledge(self.now, &mut out);
        for o in out {
            self.outgoing(o);
        }
        self.emit(TraceEvent::Api { call, result });
    }

    /// An API call was refused: traced, observed, and a problem unless `want` expected it.
    fn api_refused(&mut self, call: ApiCall, error: &controller::registry::ApiError, want: Option<&str>) {
        let text = error.to_string();
        self.emit(TraceEvent::Api { call: call.clone(), result: ApiResult::Error { message: text.clone() } });
        self.observe(Observation::ApiError(text.clone()));
        match want {
            Some(w) if text.contains(w) => {}
            Some(w) => self.problem(format!("{call}: expected an error containing {w:?}, got {text:?}")),
            None => self.problem(format!("{call}: refused: {text}")),
        }
    }
}
