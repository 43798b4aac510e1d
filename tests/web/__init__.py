"""Tests of ivr.web."""
