"""`python -m deploy_actions` is the same command as `deploy-actions`."""

from deploy_actions.cli import main

raise SystemExit(main())
