"""Tests of ivr.campaigns."""
