"""Verification after a deploy: smoke checks and canary analysis."""
