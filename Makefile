# Two commands set everything up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: run test bench migrate deploy demo venv clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/.installed

migrate: venv
	$(BIN)/atrium migrate

deploy: migrate
	$(BIN)/atrium deploy

demo: deploy
	$(BIN)/atrium demo

run: demo
	$(BIN)/atrium serve

test: venv
	$(BIN)/python -m pytest

# Needs PostgreSQL: set ATRIUM_BENCH_DATABASE_URL (default: the local test database).
bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var *.egg-info
