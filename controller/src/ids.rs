//! Identifiers of the things the controller knows.

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub u32);

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id!(
    /// A key.
    KeyId,
    "key-"
);
id!(
    /// A person who may be given contracts.
    ContactId,
    "contact-"
);
id!(
    /// A key contract.
    ContractId,
    "contract-"
);
id!(
    /// A locker contract.
    LockerContractId,
    "locker-"
);
id!(
    /// An automat (one carousel cabinet).
    AutomatId,
    "automat-"
);
id!(
    /// A device group: automats and keys that serve a set of entities.
    DeviceGroupId,
    "group-"
);
id!(
    /// An alert.
    AlertId,
    "alert-"
);

/// A slot on a carousel, `0..slot_count`.
pub type Slot = u8;
