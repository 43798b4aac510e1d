"""Outbound campaigns: settings and states, contact import, do-not-call list, calling windows, figures.
The one owner of contact and attempt state changes (docs/campaigns.md, "In the code")."""
