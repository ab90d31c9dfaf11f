"""Tests of verify: smoke checks (and canary analysis)."""
