"""Exceptions the workbench raises for the analyst to read."""

from __future__ import annotations


class RecsysError(Exception):
    """Base class: every message is meant to be shown to the analyst as it is."""


class InputError(RecsysError, ValueError):
    """Bad input from the analyst (file, form field, CLI flag); the message says how to fix it."""
