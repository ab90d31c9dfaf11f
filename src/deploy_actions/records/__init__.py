"""Deployment records: the lifecycle of each deployment and the incident records of rollbacks.

Pure cores (`lifecycle`, `journal`, `incident`) decide and render; `deployment` and
`github_mirror` do the I/O (a GitOps commit, GitHub Deployments) around them.
"""
