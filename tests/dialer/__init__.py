"""Tests of ivr.dialer."""
