# Two commands set everything up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: run test bench migrate deploy demo venv fonts clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/.installed fonts

# Reports render Chinese with a CJK font; Debian's fonts-wqy-microhei when none is installed.
fonts:
	@if fc-list :lang=zh 2>/dev/null | grep -q .; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get install -y --no-install-recommends fonts-wqy-microhei >/dev/null && fc-cache -f >/dev/null; \
	else echo "Reports need a CJK font: install fonts-wqy-microhei (Debian/Ubuntu) or font-noto-sans-cjk (brew --cask)"; exit 1; fi

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
