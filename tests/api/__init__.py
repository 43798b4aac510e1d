"""Tests of ivr.api."""
