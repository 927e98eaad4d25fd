"""Atrium: cross-cutting pieces shared by every layer (settings, clock, errors, CLI)."""
