"""Tests of ivr.accounts."""
