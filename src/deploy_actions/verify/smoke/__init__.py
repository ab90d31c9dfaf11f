"""smoke-test: post-deploy checks that wait out a rollout, then give a verdict that can be trusted.

`jsonpath` and `checks` are the pure core (what a check is, how one response is judged),
`spec_file` and `inputs` parse what the user wrote, `transport` sends requests (HTTP, HTTPS,
unix sockets), `runner` owns time (deadline, backoff, streaks, concurrency, journeys),
`report` writes the summary, JUnit and JSON, and `smoke_test` ties them to the command.
"""
