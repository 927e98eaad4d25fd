# Two commands set everything up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: run test bench migrate deploy demo venv fonts lock lock-upgrade node chromium web format clean

# The venv holds exactly the releases of requirements.lock (pip, setuptools, the dependencies and the `test`
# extras, each with its hashes), so a machine set up next month gets what CI tested; then the project itself,
# without resolving anything. A dependency added to pyproject.toml needs `make lock` (a test checks this).
$(BIN)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

venv: $(BIN)/.installed fonts

# requirements.lock is written by uv's `pip compile` (from PyPI, a pinned release, in a venv of its own):
# for every platform and Python >= 3.11 (pyproject's requires-python), with the build backend and pip too.
# `make lock` keeps the locked releases that still fit pyproject.toml; `make lock-upgrade` takes the newest.
LOCK_VENV ?= .venv-lock
UV_VERSION = 0.13.8
LOCK_INPUTS = $(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], "pip", sep="\n")'
LOCK_COMPILE = $(LOCK_VENV)/bin/uv pip compile --quiet pyproject.toml - --extra test --generate-hashes --universal \
	--fork-strategy fewest --python-version 3.11 --custom-compile-command "make lock" -o requirements.lock

$(LOCK_VENV)/bin/uv:
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION)

lock: $(LOCK_VENV)/bin/uv
	$(LOCK_INPUTS) | $(LOCK_COMPILE)

lock-upgrade: $(LOCK_VENV)/bin/uv
	$(LOCK_INPUTS) | $(LOCK_COMPILE) --upgrade

# Reports draw latin text in one font and Chinese in one CJK font, both named in reports/fonts.py (read here,
# so the check, the charts and the PDF's CSS name the same fonts). Each is checked for by its family, not as
# "any Chinese font" (a machine with ImageMagick has Droid Sans Fallback), and its Debian package installed
# (as root) when fc-list does not list it.
font_setting = $(shell sed -n 's/^$(1) = "\([^"]*\)".*/\1/p' reports/fonts.py)
LATIN_FONT := $(call font_setting,LATIN_FONT)
LATIN_FONT_PACKAGE := $(call font_setting,LATIN_FONT_PACKAGE)
CJK_FONT := $(call font_setting,CJK_FONT)
CJK_FONT_PACKAGE := $(call font_setting,CJK_FONT_PACKAGE)

# $(call need_font,family,Debian package,Homebrew cask)
define need_font
	@if ! fc-list ':family=$(1)' family 2>/dev/null | grep -q .; then \
		if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && apt-get install -y -qq --no-install-recommends $(2) >/dev/null && fc-cache -f; \
			fc-list ':family=$(1)' family | grep -q . || { echo "$(2) installed, yet fc-list lists no '$(1)'"; exit 1; }; \
		else \
			echo "Reports need the font '$(1)', which is not installed (fc-list ':family=$(1)' is empty):"; \
			echo "  Debian/Ubuntu: sudo apt-get install --no-install-recommends $(2)"; \
			echo "  macOS:         brew install --cask $(3)"; \
			exit 1; \
		fi; \
	fi
endef

# WeasyPrint also embeds fonts far faster with HarfBuzz's subsetter (libharfbuzz-subset0) than without it.
fonts:
	@[ -n "$(LATIN_FONT)" ] && [ -n "$(CJK_FONT)" ] || { echo "reports/fonts.py names no LATIN_FONT or CJK_FONT"; exit 1; }
	$(call need_font,$(LATIN_FONT),$(LATIN_FONT_PACKAGE),font-dejavu)
	$(call need_font,$(CJK_FONT),$(CJK_FONT_PACKAGE),font-noto-sans-cjk-sc)
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
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# Needs PostgreSQL: set ATRIUM_BENCH_DATABASE_URL (default: the local test database).
bench: venv web chromium
	$(BIN)/python -m bench

format: venv  # what `make test` checks: the style and the layout ruff gives
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(LOCK_VENV) var *.egg-info web/node_modules web/dist
