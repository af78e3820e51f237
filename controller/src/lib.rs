//! The host-side software of the key automat (contracts, allocation, sessions, audit): not built yet, see issue "The controller".
