"""Tests of ivr.cli."""
