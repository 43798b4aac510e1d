"""Twilio's webhooks: signed, thin, and never a 500 to Twilio."""

# Every voice module registers its routes on the one blueprint (ivr.voice.blueprint); importing them here,
# once, is what puts them on it.
from . import agent_line, outbound, routes  # noqa: F401
from .blueprint import bp

__all__ = ["bp"]
