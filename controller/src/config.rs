//! What a controller is configured with.

use std::time::Duration;

use firmware_proto::auth::PairingKey;
use jiff::tz::TimeZone;

use crate::ids::AutomatId;
use crate::verify::Plate;

/// A board the controller talks to, provisioned at pairing.
#[derive(Clone, Debug)]
pub struct BoardPairing {
    /// The automat the board drives.
    pub automat: AutomatId,
    /// The board's id (part of every MAC).
    pub board_id: u32,
    /// The shared pairing key.
    pub key: PairingKey,
}

/// Controller settings. [`ControllerConfig::new`] gives the defaults named in the docs.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Secret for PIN digests; never journaled.
    pub secret: [u8; 32],
    /// Seed of the controller's random numbers (generated PINs, hello challenges).
    pub seed: u64,
    /// The boards, one per automat.
    pub boards: Vec<BoardPairing>,
    /// The zone daily deadlines are in.
    pub time_zone: TimeZone,
    /// Keypad input is dropped after this long without a key press (30 s).
    pub entry_timeout: Duration,
    /// Wrong codes in a row that lock the keypad (5).
    pub max_wrong_codes: u8,
    /// How long a lockout lasts (5 min).
    pub lockout: Duration,
    /// How long the latch stays released for the user to open the door (20 s).
    pub unlock_window: Duration,
    /// Door open longer than this raises `DoorHeldOpen` (60 s).
    pub door_open_limit: Duration,
    /// A key is overdue this long after its contract ends (15 min).
    pub overdue_grace: Duration,
    /// How long the controller waits for a board answer or a camera in a session (30 s).
    pub step_timeout: Duration,
    /// Raise `SharedKeyOut` when a user comes for a shared key someone else has out.
    pub alert_shared_key_out: bool,
    /// Reservations longer than this become a fetch contract and a return contract (48 h).
    pub split_after: Duration,
    /// Length of the fetch contract of a split reservation (12 h).
    pub fetch_window: Duration,
    /// Length of the return contract of a split reservation, ending at the reservation's end
    /// (12 h).
    pub return_window: Duration,
    /// Per automat, its internal camera's image of an empty pocket, taken at installation
    /// (none: fobs are told from the wall around them, see [`crate::verify`]).
    pub plates: Vec<(AutomatId, Plate)>,
}

impl ControllerConfig {
    /// Automat `automat`'s empty-pocket plate, if it was calibrated.
    pub fn plate(&self, automat: AutomatId) -> Option<&Plate> {
        self.plates.iter().find(|(a, _)| *a == automat).map(|(_, p)| p)
    }

    /// The defaults, with the given secret, seed and boards, in UTC.
    pub fn new(secret: [u8; 32], seed: u64, boards: Vec<BoardPairing>) -> Self {
        ControllerConfig {
            secret,
            seed,
            boards,
            time_zone: TimeZone::UTC,
            entry_timeout: Duration::from_secs(30),
            max_wrong_codes: 5,
            lockout: Duration::from_secs(300),
            unlock_window: Duration::from_secs(20),
            door_open_limit: Duration::from_secs(60),
            overdue_grace: Duration::from_secs(15 * 60),
            step_timeout: Duration::from_secs(30),
            alert_shared_key_out: true,
            split_after: Duration::from_secs(48 * 3600),
            fetch_window: Duration::from_secs(12 * 3600),
            return_window: Duration::from_secs(12 * 3600),
            plates: Vec::new(),
        }
    }
}
