"""Tests of ivr.calls."""
