//! PIN digests and generation. PINs are kept only as keyed digests, so no record, trace or
//! report can leak one, and a stolen journal does not reveal them without the controller's
//! secret.

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;

use crate::ids::AutomatId;
use crate::model::{Pin, PinDigest};

/// Computes PIN digests with the controller's secret.
#[derive(Clone)]
pub struct PinHasher {
    /// HMAC state with the key absorbed, cloned per digest.
    keyed: Hmac<Sha256>,
}

impl core::fmt::Debug for PinHasher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PinHasher(…)")
    }
}

impl PinHasher {
    /// A hasher for the controller secret `secret`.
    pub fn new(secret: &[u8; 32]) -> Self {
        match Hmac::<Sha256>::new_from_slice(secret) {
            Ok(keyed) => PinHasher { keyed },
            Err(_) => unreachable!("HMAC takes keys of any length"),
        }
    }

    /// The digest of `pin` typed at `automat`.
    pub fn digest(&self, automat: AutomatId, pin: &Pin) -> PinDigest {
        let mut mac = self.keyed.clone();
        mac.update(&automat.0.to_le_bytes());
        mac.update(pin.expose().as_bytes());
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&full[..16]);
        PinDigest(out)
    }
}

/// A random PIN of [`Pin::GENERATED_LEN`] digits.
pub fn generate(rng: &mut impl Rng) -> Pin {
    let digits: String =
        (0..Pin::GENERATED_LEN).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect();
    match Pin::parse(&digits) {
        Some(pin) => pin,
        None => unreachable!("six digits are a valid PIN"),
    }
}
