"""`make demo`: the whole flow on one machine, told as a story (run it with `python -m demo`).

`service` is the demo app (one workload per track), `registry` publishes its image, and
`reconciler` stands in for Flux / Argo CD; `router` is the nginx the reconciler configures from
the GitOps repository and `prometheus` the Prometheus the watch reads. `story` prints and keeps
the narrative; `__main__` drives the real `deploy-actions` CLI through the release story and
`progressive` through the router chapters.
"""
