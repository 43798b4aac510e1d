# The two set-up commands of the README: `make serve` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==25.3"

# Every Python package, dependencies of dependencies included, comes from a lock file with hashes
# (requirements.txt for the service, requirements-test.txt for the tests; `make lock` rewrites both)
$(VENV)/.installed-app: pyproject.toml requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements-test.txt | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements-test.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.installed-app

## lock: rewrite the lock files from pyproject.toml's pins (pip-tools, in a throwaway venv)
.PHONY: lock
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv && .lockenv/bin/pip install --quiet "pip==25.3" "pip-tools==7.5.2"
	.lockenv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links -o requirements.txt pyproject.toml
	.lockenv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links --extra test -o requirements-test.txt pyproject.toml
	rm -rf .lockenv

## audit: the locked packages against PyPI's security advisories (.ci/audit_dependencies.py tells what it can check)
.PHONY: audit
audit:
	$(PYTHON) .ci/audit_dependencies.py requirements.txt requirements-test.txt

## serve: install, migrate the SQLite database, publish the sample flows and serve on http://127.0.0.1:5000
serve: $(VENV)/.installed-app
	$(BIN)/ivr serve

## lint: ruff, mypy and the import contracts (import-linter, in pyproject.toml)
lint: $(VENV)/.installed-test
	$(BIN)/ruff check ivr tests benchmarks
	$(BIN)/ruff format --check ivr tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# Stoplight Prism (npm, pinned in package-lock.json) mocks Twilio's REST API in the dialer tests; the editor's
# front end (CodeMirror, dagre) is bundled from npm packages too
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --silent --no-audit --no-fund

## assets: rebuild the editor pages' JS and CSS (ivr/web/assets -> ivr/web/static/build, committed) with esbuild
.PHONY: assets
assets: node_modules/.package-lock.json
	node ivr/web/assets/build.mjs

# Debian's Chromium drives the browser tests (tests/browser, Playwright): Playwright does not download a browser
# of its own. Installed when missing, as root on Debian; elsewhere install it by hand or point CHROMIUM at a Chromium.
CHROMIUM ?= /usr/bin/chromium
export IVR_CHROMIUM := $(CHROMIUM)
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else \
		echo "The browser tests need Chromium at $(CHROMIUM): on Debian run 'apt-get install -y chromium' as root," \
			"or set CHROMIUM=/path/to/chromium" >&2; exit 1; \
	fi

## test: lint, then the whole suite (PostgreSQL too when IVR_TEST_POSTGRES_URL is set), engine coverage 100%
# One pytest-xdist worker per core (PYTEST_XDIST_AUTO_NUM_WORKERS=N: N), an idle one taking a busy one's tests
test: lint audit node_modules/.package-lock.json $(CHROMIUM)
	$(BIN)/python -m pytest -n auto --dist worksteal --cov=ivr --cov-branch --cov-report=term:skip-covered
	$(BIN)/coverage report --include='ivr/engine/*' --fail-under=100 --show-missing
