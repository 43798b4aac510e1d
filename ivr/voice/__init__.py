"""Twilio's webhooks: signed, thin, and never a 500 to Twilio."""

from . import (
    agent_line,  # noqa: F401  (registers the agent line's routes on the blueprint)
    outbound,  # noqa: F401  (registers /voice/outbound, the Url of the dialer's calls)
)
from .routes import bp

__all__ = ["bp"]
