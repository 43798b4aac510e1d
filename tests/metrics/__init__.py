"""Tests of ivr.metrics."""
