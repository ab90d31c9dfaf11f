# Two commands on a fresh machine: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
WORKFLOW_FILES := $(wildcard .github/workflows/*.yml workflows/*.yml)
ACTION_FILES := $(wildcard */action.yml action.yml)

.PHONY: test lint unit demo demo-progressive bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests benchmarks scripts demo bootstrap.py
	$(BIN)/mypy
	$(BIN)/python scripts/sync_actions.py --check
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows $(WORKFLOW_FILES)
	$(BIN)/check-jsonschema --builtin-schema vendor.github-actions $(ACTION_FILES)
	$(BIN)/actionlint $(WORKFLOW_FILES)
	$(BIN)/zizmor --offline --no-progress . workflows/*.yml
	$(BIN)/hadolint Dockerfile

unit: $(BIN)/.installed
	$(BIN)/pytest -n auto -p no:cacheprovider

test: lint unit

demo: $(BIN)/.installed
	$(BIN)/python -m demo

demo-progressive: $(BIN)/.installed
	$(BIN)/python -m demo.progressive

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/next_version.py
	$(BIN)/python benchmarks/changelog_parse.py
	$(BIN)/python benchmarks/action_overhead.py
	$(BIN)/python benchmarks/gitops_bump.py
	$(BIN)/python benchmarks/smoke_load.py
	$(BIN)/python benchmarks/canary_judges.py

clean:
	rm -rf $(VENV) .work
