"""Developer tooling: the local stack launcher, demo data (not imported by the service)."""
