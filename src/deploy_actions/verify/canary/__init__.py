"""canary-monitor: decide promote, rollback or hold for a canary from data, with a bounded
false-rollback rate.

`stats` holds the anytime-valid sequential tests (pure functions), `rules` the runbook's guards
and how each is judged at a look, `decision` the promote/rollback/hold state machine, `providers`
where the data comes from (Prometheus, or our own probe requests), `report` the step summary and
JSON report, and `monitor` ties them to the command.
"""
