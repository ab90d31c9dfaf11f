"""Stand-ins for services we cannot run locally, each held to the real service's published contract."""
