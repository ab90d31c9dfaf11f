"""`make demo`: the whole flow on one machine, told as a story (run it with `python -m demo`).

`service` is the demo app (one workload per track), `registry` publishes its image, and
`reconciler` stands in for Flux / Argo CD; `__main__` drives the real `deploy-actions` CLI.
"""
