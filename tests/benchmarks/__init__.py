"""Tests of the benchmark scripts' pure parts, so they cannot rot."""
