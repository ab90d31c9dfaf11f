# Two commands on a fresh machine: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKFLOW_FILES := $(wildcard .github/workflows/*.yml workflows/*.yml)
ACTION_FILES := $(wildcard */action.yml action.yml)

.PHONY: test lint unit demo bench clean system

# Debian packages the tests and the demo run (registry, Prometheus, shellcheck, buildah, ...):
# installed when missing, else one line says what to install.
system:
	PYTHON=$(PYTHON) bash scripts/setup-system.sh

$(BIN)/.installed: pyproject.toml | system
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

lint: system $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks scripts demo bootstrap.py
	$(BIN)/mypy
	$(BIN)/python scripts/sync_actions.py --check
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows $(WORKFLOW_FILES)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions $(ACTION_FILES)
	$(BIN)/actionlint $(WORKFLOW_FILES)
	$(BIN)/zizmor --offline --no-progress --persona pedantic . workflows/*.yml
	$(BIN)/hadolint Dockerfile

unit: system $(BIN)/.installed
	$(BIN)/pytest -n auto --dist loadgroup -p no:cacheprovider

test: lint unit

demo: system $(BIN)/.installed
	$(BIN)/python -m demo

bench: system $(BIN)/.installed
	$(BIN)/python benchmarks/next_version.py
	$(BIN)/python benchmarks/changelog_parse.py
	$(BIN)/python benchmarks/release_replay.py
	$(BIN)/python benchmarks/action_overhead.py
	$(BIN)/python benchmarks/gitops_bump.py
	$(BIN)/python benchmarks/gitops_fleet.py
	$(BIN)/python benchmarks/smoke_load.py
	$(BIN)/python benchmarks/canary_judges.py
	$(BIN)/python benchmarks/canary_stages.py
	$(BIN)/python benchmarks/records_readback.py
	$(BIN)/python benchmarks/report_records.py

clean:
	rm -rf $(VENV) .work
