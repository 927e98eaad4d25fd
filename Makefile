# Two commands set everything up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: run test bench migrate deploy demo venv fonts node chromium web clean

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

# The browser app (web/) is built here from its sources, never committed: Node.js and npm come from
# Debian's packages when missing (as root), like the CJK font above. The build needs the OpenAPI
# document, from which the app's API types are generated: a changed endpoint breaks the build.
node:
	@if ! command -v npm >/dev/null; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
		else \
			echo "The web app is built with Node.js 18+ and npm, and neither is installed. Install them:"; \
			echo "  Debian/Ubuntu: sudo apt-get install nodejs npm"; \
			echo "  macOS:         brew install node"; \
			exit 1; \
		fi; \
	fi

WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json
WEB_API_SOURCES := $(wildcard api/*.py)

web/node_modules/.installed: web/package.json web/package-lock.json | node
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SOURCES) $(WEB_API_SOURCES) $(BIN)/.installed
	$(BIN)/python -m api.openapi_document web/openapi.json
	cd web && npm run --silent types && npm run --silent build

web: web/dist/index.html

# The browser tests drive Debian's Chromium (never a downloaded one); installed as root when missing.
chromium:
	@if ! command -v chromium >/dev/null; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
		else \
			echo "The browser tests need Chromium; they are skipped without it (and fail under CI=true):"; \
			echo "  Debian/Ubuntu: sudo apt-get install chromium"; \
		fi; \
	fi

migrate: venv
	$(BIN)/atrium migrate

deploy: migrate
	$(BIN)/atrium deploy

demo: deploy
	$(BIN)/atrium demo

run: demo web
	$(BIN)/atrium serve

test: venv web chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

# Needs PostgreSQL: set ATRIUM_BENCH_DATABASE_URL (default: the local test database).
bench: venv web chromium
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var *.egg-info web/node_modules web/dist
