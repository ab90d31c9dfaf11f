"""The operations report: what runs where, how the period's deployments went, incidents, and the
four DORA keys, computed from the GitOps repository's own records (plus Prometheus and the GitHub
API when given).

`records` reads and validates the record files, `model` folds them into deployments, rollbacks and
what runs where, `dora` computes the keys and their bands, `service_levels` asks Prometheus, `charts`
and `render` write Mermaid, SVG, Markdown and JSON, and `build` runs the whole for the command.
"""
