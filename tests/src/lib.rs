//! Cross-crate integration tests: none yet; they arrive with the simulator (see README).
