"""Outbound campaigns: settings and states, contact import, do-not-call list, calling windows, figures.

The pure modules (phone, window, rules, figures) import no Flask or SQLAlchemy; importer, dnc, service
and tally take a session and never commit.
"""
