"""Tests of ivr.flows."""
