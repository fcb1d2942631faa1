"""Developer tools (fixture capture). Not used by the product at run time."""
