//! Command authentication on the host link.
//!
//! `PresentSlot` and `UnlockDoor` expose a key, so each carries an [`Auth`]: a counter and a
//! MAC. The board holds a 32-byte pairing key provisioned at pairing and the last counter it
//! accepted (kept across power cuts). It accepts a secured command only when the MAC verifies
//! and the counter is greater than the last one; anything else is refused and reported as
//! [`crate::types::TamperSource`].
//!
//! ```text
//! mac_input = "KA-CMD-1" ‖ board_id u32 LE ‖ counter u32 LE ‖ command id u8 ‖ argument u32 LE
//! mac       = HMAC-SHA256(pairing_key, mac_input)[0..16]
//! ```
//! The argument is the slot for `PresentSlot` (id 1) and `window_ms` for `UnlockDoor` (id 2).
//!
//! The hello proves the board holds the same key:
//! `proof = HMAC-SHA256(pairing_key, "KA-PAIR1" ‖ board_id u32 LE ‖ challenge[16])[0..16]`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::host::{Auth, HostToBoard, MAC_LEN};
use crate::types::SecuredCommand;

type HmacSha256 = Hmac<Sha256>;

/// Domain separation prefix of command MACs.
pub const COMMAND_DOMAIN: &[u8; 8] = b"KA-CMD-1";
/// Domain separation prefix of pairing proofs.
pub const PAIRING_DOMAIN: &[u8; 8] = b"KA-PAIR1";

/// The secret shared by a board and its controller.
#[derive(Clone, PartialEq, Eq)]
pub struct PairingKey(pub [u8; 32]);

impl core::fmt::Debug for PairingKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PairingKey(…)")
    }
}

impl PairingKey {
    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; 32 bytes is never refused.
        match HmacSha256::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        }
    }
}

fn command_input(board_id: u32, counter: u32, command: SecuredCommand, argument: u32) -> [u8; 21] {
    let mut input = [0u8; 21];
    input[..8].copy_from_slice(COMMAND_DOMAIN);
    input[8..12].copy_from_slice(&board_id.to_le_bytes());
    input[12..16].copy_from_slice(&counter.to_le_bytes());
    input[16] = command.id();
    input[17..21].copy_from_slice(&argument.to_le_bytes());
    input
}

fn truncate(full: &[u8]) -> [u8; MAC_LEN] {
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(&full[..MAC_LEN]);
    out
}

/// The MAC of a secured command.
pub fn command_mac(
    key: &PairingKey,
    board_id: u32,
    counter: u32,
    command: SecuredCommand,
    argument: u32,
) -> [u8; MAC_LEN] {
    let mut mac = key.mac();
    mac.update(&command_input(board_id, counter, command, argument));
    truncate(&mac.finalize().into_bytes())
}

/// Whether `auth` is a valid MAC for the command (constant time); the counter is not judged here.
pub fn verify_command(
    key: &PairingKey,
    board_id: u32,
    command: SecuredCommand,
    argument: u32,
    auth: &Auth,
) -> bool {
    let mut mac = key.mac();
    mac.update(&command_input(board_id, auth.counter, command, argument));
    mac.verify_truncated_left(&auth.mac).is_ok()
}

/// The board's proof of the pairing key over the host's challenge.
pub fn pairing_proof(key: &PairingKey, board_id: u32, challenge: &[u8; 16]) -> [u8; MAC_LEN] {
    let mut mac = key.mac();
    mac.update(PAIRING_DOMAIN);
    mac.update(&board_id.to_le_bytes());
    mac.update(challenge);
    truncate(&mac.finalize().into_bytes())
}

/// The secured command and its MAC argument, for a message that is one.
pub fn secured_parts(message: &HostToBoard) -> Option<(SecuredCommand, u32, &Auth)> {
    match message {
        HostToBoard::PresentSlot { slot, auth } => {
            Some((SecuredCommand::PresentSlot, u32::from(*slot), auth))
        }
        HostToBoard::UnlockDoor { window_ms, auth } => Some((SecuredCommand::UnlockDoor, *window_ms, auth)),
        _ => None,
    }
}

/// The host side: makes secured commands with a counter that only goes up.
///
/// The counter must survive restarts of the host (the controller journals it) or be raised
/// above the board's `last_counter` from its hello, which [`CommandSigner::observe_board_counter`]
/// does.
#[derive(Clone, Debug)]
pub struct CommandSigner {
    key: PairingKey,
    board_id: u32,
    counter: u32,
}

impl CommandSigner {
    /// A signer whose next command uses `last_counter + 1`.
    pub fn new(key: PairingKey, board_id: u32, last_counter: u32) -> Self {
        CommandSigner { key, board_id, counter: last_counter }
    }

    /// The last counter used.
    pub fn counter(&self) -> u32 {
        self.counter
    }

    /// Raises the counter to at least the board's last accepted one.
    pub fn observe_board_counter(&mut self, board_last: u32) {
        self.counter = self.counter.max(board_last);
    }

    fn next(&mut self, command: SecuredCommand, argument: u32) -> Auth {
        self.counter = self.counter.wrapping_add(1);
        Auth {
            counter: self.counter,
            mac: command_mac(&self.key, self.board_id, self.counter, command, argument),
        }
    }

    /// A signed `PresentSlot`.
    pub fn present_slot(&mut self, slot: u8) -> HostToBoard {
        HostToBoard::PresentSlot { slot, auth: self.next(SecuredCommand::PresentSlot, u32::from(slot)) }
    }

    /// A signed `UnlockDoor`.
    pub fn unlock_door(&mut self, window_ms: u32) -> HostToBoard {
        HostToBoard::UnlockDoor { window_ms, auth: self.next(SecuredCommand::UnlockDoor, window_ms) }
    }

    /// Whether a board's hello proof matches our key for `challenge`.
    pub fn check_proof(&self, challenge: &[u8; 16], proof: &[u8; MAC_LEN]) -> bool {
        let mut mac = self.key.mac();
        mac.update(PAIRING_DOMAIN);
        mac.update(&self.board_id.to_le_bytes());
        mac.update(challenge);
        mac.verify_truncated_left(proof).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: PairingKey = PairingKey([0x42; 32]);

    #[test]
    fn signed_commands_verify_and_altered_ones_do_not() {
        let mut signer = CommandSigner::new(KEY, 7, 0);
        let cmd = signer.present_slot(12);
        let (command, arg, auth) = secured_parts(&cmd).expect("secured");
        assert_eq!(auth.counter, 1);
        assert!(verify_command(&KEY, 7, command, arg, auth));
        assert!(!verify_command(&KEY, 7, command, 13, auth), "other slot");
        assert!(!verify_command(&KEY, 8, command, arg, auth), "other board");
        assert!(!verify_command(&KEY, 7, SecuredCommand::UnlockDoor, arg, auth), "other command");
        assert!(!verify_command(&PairingKey([0x43; 32]), 7, command, arg, auth), "other key");
        let bumped = Auth { counter: 2, ..*auth };
        assert!(!verify_command(&KEY, 7, command, arg, &bumped), "other counter");
    }

    #[test]
    fn proof_checks_against_the_same_key_only() {
        let challenge = [9u8; 16];
        let proof = pairing_proof(&KEY, 7, &challenge);
        assert!(CommandSigner::new(KEY, 7, 0).check_proof(&challenge, &proof));
        assert!(!CommandSigner::new(PairingKey([1; 32]), 7, 0).check_proof(&challenge, &proof));
    }
}
