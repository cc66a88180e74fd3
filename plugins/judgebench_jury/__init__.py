"""Juries: a backend that asks several judge backends and aggregates their verdicts (see docs/backends-api.md)."""
