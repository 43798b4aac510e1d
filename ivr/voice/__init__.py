"""Twilio's webhooks: signed, thin, and never a 500 to Twilio."""

from .routes import bp

__all__ = ["bp"]
