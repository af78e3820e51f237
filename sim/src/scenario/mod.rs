//! The scenario format: what `scenarios/*.ron` files hold. Documented for users in
//! `scenarios/README.md`; every struct refuses unknown fields.

pub mod action;
pub mod expectation;
pub mod load;
pub mod names;
pub mod spans;
pub mod time;
mod validate;

use serde::{Deserialize, Serialize};

pub use action::*;
pub use expectation::*;
pub use load::{LoadError, load_file, load_str};
pub use time::Offset;
pub use validate::is_label;

use crate::camera::CameraMode;
use crate::plant::look::{Person, Shape};
use crate::wire::LineConfig;

/// One scenario file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name (the test case's name).
    pub name: String,
    /// What it proves.
    #[serde(default)]
    pub description: String,
    /// Labels to select runs by (`sim run --tag slow`, `--exclude-tag hil`): lower-case words
    /// such as `"security"`, `"power"`, `"slow"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Seed of every random choice of the run (overridden by `--seed`).
    #[serde(default)]
    pub seed: u64,
    /// Wall-clock time at the start, RFC 3339 (default 2026-06-01T08:00:00Z, a Monday).
    #[serde(default)]
    pub start: Option<String>,
    /// Time zone of daily deadlines (IANA name, default UTC).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// How long to simulate (default: the last timeline step plus 10 minutes).
    #[serde(default)]
    pub duration: Option<Offset>,
    /// The automats.
    pub automats: Vec<AutomatSpec>,
    /// The keys.
    #[serde(default)]
    pub keys: Vec<KeySpec>,
    /// The contacts.
    #[serde(default)]
    pub contacts: Vec<ContactSpec>,
    /// Device groups.
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
    /// Contracts created through the API at the start.
    #[serde(default)]
    pub contracts: Vec<ContractSpec>,
    /// The people at the automats and what they carry at the start.
    #[serde(default)]
    pub users: Vec<UserSpec>,
    /// What happens when.
    #[serde(default)]
    pub timeline: Vec<Step>,
    /// What must (and must not) happen.
    #[serde(default)]
    pub expect: Expect,
    /// The serial lines.
    #[serde(default)]
    pub lines: Lines,
    /// Controller settings.
    #[serde(default)]
    pub controller: ControllerSpec,
    /// What the trace leaves out.
    #[serde(default, skip_serializing_if = "TraceSpec::is_empty")]
    pub trace: TraceSpec,
    /// How camera images are made (default drawn; `sim run --cameras` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cameras: Option<CameraMode>,
    /// Users do what they can: hanging or giving an item they do not hold is skipped (and
    /// noted in the trace) instead of being a scenario error. Swarm-generated scenarios set it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub improvise: bool,
}

impl Scenario {
    /// Whether it carries the tag `tag`.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// What a run's trace leaves out: periodic link traffic that would fill a long soak's trace
/// with the same line. The run simulates it all the same; the trace's header lists what it
/// leaves out.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSpec {
    /// Link messages by name (`"Heartbeat"`), on either link, either way.
    #[serde(default)]
    pub leave_out: Vec<names::LinkMessageName>,
}

impl TraceSpec {
    /// Whether it leaves nothing out (the default).
    pub fn is_empty(&self) -> bool {
        self.leave_out.is_empty()
    }
}

/// An automat of the fleet.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AutomatSpec {
    /// Its id.
    pub id: u32,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Slots on the carousel (default 30).
    #[serde(default = "thirty")]
    pub slots: u8,
    /// Latitude and longitude.
    #[serde(default)]
    pub location: (f64, f64),
    /// The slot at the window when the scenario starts.
    #[serde(default)]
    pub at_window: u8,
}

fn thirty() -> u8 {
    30
}

/// A key fob's look.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LookSpec {
    /// A colour name (`red`, `blue`, `green`, `yellow`, `purple`, `orange`, `cyan`, `white`,
    /// `black`, `pink`) or `#rrggbb`.
    pub colour: String,
    /// The outline.
    #[serde(default = "round")]
    pub shape: Shape,
    /// Up to 4 characters printed on it.
    #[serde(default)]
    pub label: String,
}

fn round() -> Shape {
    Shape::Round
}

/// A key.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// Its id.
    pub id: u32,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// The automat it is stored in.
    pub automat: u32,
    /// Its slot.
    pub slot: u8,
    /// Its tag as hex (`"04A1B2C3"`), or none for an untagged key.
    #[serde(default)]
    pub tag: Option<String>,
    /// Shared keys allow overlapping contracts.
    #[serde(default)]
    pub shared: bool,
    /// A four-digit return code.
    #[serde(default)]
    pub return_code: Option<String>,
    /// How its fob looks.
    pub look: LookSpec,
    /// A local time it must be back by every day (`"17:00"`).
    #[serde(default)]
    pub daily_deadline: Option<String>,
}

/// A contact.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContactSpec {
    /// Its id.
    pub id: u32,
    /// Its name.
    pub name: String,
}

/// A device group.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Its id.
    pub id: u32,
    /// Its automats.
    pub automats: Vec<u32>,
    /// Entity name and the keys that open it.
    pub entities: Vec<(String, Vec<u32>)>,
}

/// A weekly window of a schedule.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Days: `Mon`, `Tue`, `Wed`, `Thu`, `Fri`, `Sat`, `Sun`.
    pub days: Vec<String>,
    /// Opening, local `"HH:MM"`.
    pub from: String,
    /// Closing, local `"HH:MM"`.
    pub to: String,
}

/// An access schedule.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// IANA time zone.
    pub time_zone: String,
    /// The windows.
    pub windows: Vec<WindowSpec>,
}

/// A contract to create through the API.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContractSpec {
    /// A handle the timeline and expectations use (`"alice-van"`).
    pub name: String,
    /// The automat.
    pub automat: u32,
    /// The keys.
    pub keys: Vec<u32>,
    /// The contacts.
    pub contacts: Vec<u32>,
    /// Start, as an offset from the scenario's start (default: now).
    #[serde(default)]
    pub start: Option<Offset>,
    /// End, as an offset from the scenario's start (default: permanent).
    #[serde(default)]
    pub end: Option<Offset>,
    /// The PIN (default: generated; refer to it as `ContractPin("name")`).
    #[serde(default)]
    pub pin: Option<String>,
    /// Weekly windows.
    #[serde(default)]
    pub schedule: Option<ScheduleSpec>,
    /// The API must refuse it with an error containing this text.
    #[serde(default)]
    pub expect_error: Option<String>,
}

/// A reservation pushed through the API.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationSpec {
    /// A handle for its contracts: `"<name>/fetch"`, `"<name>/return"` or `"<name>"`.
    pub name: String,
    /// The entity.
    pub entity: String,
    /// The contacts.
    pub contacts: Vec<u32>,
    /// Start offset.
    pub start: Offset,
    /// End offset.
    pub end: Offset,
    /// The device group.
    pub group: u32,
    /// Where the user comes from.
    #[serde(default)]
    pub near: Option<(f64, f64)>,
    /// The automat that must be chosen.
    #[serde(default)]
    pub expect_automat: Option<u32>,
}

/// A person.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Their name.
    pub name: String,
    /// The automat they use (default: the first).
    #[serde(default)]
    pub automat: Option<u32>,
    /// Foreign items they carry (not fleet keys), by name.
    #[serde(default)]
    pub carries: Vec<(String, LookSpec)>,
    /// Does not queue: types while someone else is busy at the automat (abuse cases).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub impatient: bool,
    /// How they look to the front camera (what is left out differs from user to user).
    #[serde(default, skip_serializing_if = "PersonSpec::is_default")]
    pub look: PersonSpec,
}

/// How a person looks: `look: (height: 1.8, clothes: "red", hair: "#302018", skin: "#e0b090")`.
/// Each field may be left out; the default look of the `i`-th user differs from its
/// neighbours' in every field.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PersonSpec {
    /// Height in metres (1.2 to 2.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<f32>,
    /// Clothes: a colour name or `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clothes: Option<String>,
    /// Hair: a colour name or `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hair: Option<String>,
    /// Skin: a colour name or `#rrggbb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skin: Option<String>,
}

impl PersonSpec {
    fn is_default(&self) -> bool {
        *self == PersonSpec::default()
    }

    /// The look, the `i`-th user's default where a field is left out (or is not a colour:
    /// the loader refuses that).
    pub fn person(&self, i: usize) -> Person {
        let d = Person::default_for(i);
        let colour = |c: &Option<String>, d: [u8; 3]| c.as_deref().and_then(load::colour).unwrap_or(d);
        Person {
            height: self.height.unwrap_or(d.height),
            clothes: colour(&self.clothes, d.clothes),
            hair: colour(&self.hair, d.hair),
            skin: colour(&self.skin, d.skin),
        }
    }
}

/// The serial lines.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Lines {
    /// Controller ⇄ board.
    #[serde(default)]
    pub host: LineConfig,
    /// Board ⇄ plant.
    #[serde(default)]
    pub plant: LineConfig,
}

/// Controller settings a scenario may change.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerSpec {
    /// Group commit: at most this many records share one journal sync (default 1: a sync per
    /// record). Nothing is acknowledged before its records are synced, whatever the value.
    #[serde(default)]
    pub fsync_every: Option<u32>,
    /// Door-open limit.
    #[serde(default)]
    pub door_open_limit: Option<Offset>,
    /// Unlock window.
    #[serde(default)]
    pub unlock_window: Option<Offset>,
    /// Lockout length.
    #[serde(default)]
    pub lockout: Option<Offset>,
    /// Overdue grace after a contract's end.
    #[serde(default)]
    pub overdue_grace: Option<Offset>,
    /// Whether a shared key out with another holder raises an alert (default true).
    #[serde(default)]
    pub alert_shared_key_out: Option<bool>,
    /// Reservations longer than this become a fetch and a return contract (default 48h).
    #[serde(default)]
    pub split_after: Option<Offset>,
    /// How long after its start a split reservation's key may be fetched (default 12h).
    #[serde(default)]
    pub fetch_window: Option<Offset>,
    /// How long before its end a split reservation's key may be returned (default 12h).
    #[serde(default)]
    pub return_window: Option<Offset>,
}
