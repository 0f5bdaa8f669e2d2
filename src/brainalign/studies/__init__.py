"""One package per study; a study imports the core, never another study."""
