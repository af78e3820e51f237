//! The Bevy-based plant and the headless scenario runner: not built yet, see issue "Headless simulator".
