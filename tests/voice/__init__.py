"""Tests of ivr.voice."""
