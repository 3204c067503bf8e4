"""Errors meant for users: each message says what happened and what to do next.

The CLI prints them as one line and exits non-zero; the UI shows them in place of a result.
Anything that is not a PricerError is a bug and keeps its traceback.
"""


class PricerError(Exception):
    """An error whose message a user can act on."""


class BadInput(PricerError):
    """The user's input (text, file, option) cannot be used as given."""


class HubUnavailable(PricerError):
    """The Hugging Face Hub cannot be reached (offline machine, HF_HUB_OFFLINE, DNS)."""


class AccessDenied(PricerError):
    """A gated or private repository that the current token cannot read."""


class NotFound(PricerError):
    """An unknown hub id, revision or local path."""


class ModelUnavailable(PricerError):
    """The model cannot run here (no GPU for an 8B model, out of memory, bad adapter)."""
