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

# PDF reports need a CJK font for their Chinese text: Debian's fonts-wqy-microhei when fc-list finds none.
# WeasyPrint also embeds fonts far faster with HarfBuzz's subsetter (libharfbuzz-subset0) than without it.
fonts:
	@if ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && apt-get install -y -qq --no-install-recommends fonts-wqy-microhei >/dev/null \
				&& fc-cache -f; \
			fc-list :lang=zh | grep -q . || { echo "fonts-wqy-microhei did not install: fc-list :lang=zh is still empty"; exit 1; }; \
		else \
			echo "Reports need a CJK font and none is installed (fc-list :lang=zh is empty). Install one:"; \
			echo "  Debian/Ubuntu: sudo apt-get install --no-install-recommends fonts-wqy-microhei"; \
			echo "  macOS:         brew install --cask font-noto-sans-cjk"; \
			exit 1; \
		fi; \
	fi
	@if command -v ldconfig >/dev/null && ! ldconfig -p | grep -q libharfbuzz-subset; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && apt-get install -y -qq --no-install-recommends libharfbuzz-subset0 >/dev/null; \
		else \
			echo "PDF reports render faster with HarfBuzz's subsetter: install libharfbuzz-subset0"; \
		fi; \
	fi

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
