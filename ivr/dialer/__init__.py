"""The dialer worker: places the calls of running campaigns through Twilio's Calls API.
How a contact is dialled, step by step, and crash safety: docs/dialer.md."""
