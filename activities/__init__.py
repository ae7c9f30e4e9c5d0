"""Temporal activities: classes holding the process's shared pool and providers (no per-call set-up)."""
