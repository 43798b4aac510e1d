"""Tests of ivr.sim."""
