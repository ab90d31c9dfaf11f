"""Releases: conventional commits, the next version, version files and the changelog."""
