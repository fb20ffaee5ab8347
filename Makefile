# The two commands of the README: `make run` and `make test`. Everything they need is
# installed here, so they work on a fresh machine.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app portal
# Debian's Chromium drives the browser tests (Playwright does not download browsers here).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# `make run PORT=5001` serves elsewhere; links in e-mails follow.
PORT ?= 5000
# pytest-xdist workers: more than the cores, because much of the suite waits (browsers,
# subprocesses, PostgreSQL); 4 on two cores is 5 min 13 s where 2 took over 6 min.
TEST_WORKERS ?= 4
RUN_ENV := PATH="$(abspath $(BIN)):$$PATH" PORTAL_BASE_URL=http://127.0.0.1:$(PORT)

.PHONY: run test lint lock bench install install-test browser db demo serve clean

run: install db demo serve

install: $(VENV)/.installed

# requirements.lock pins every package to the version CI last tested (`make lock` renews it).
$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

install-test: $(VENV)/.installed-test

$(VENV)/.installed-test: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $(VENV)/.installed $@

# ruff, configured in pyproject.toml; CI runs it before the suite.
lint: install-test
	$(BIN)/ruff check .

# The newest versions pyproject.toml allows, installed in a fresh environment and written to
# requirements.lock; run the suite afterwards, and commit the lock file with what it changed.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e '.[test]'
	( echo "# Every package make run and make test install, at the versions CI tested (make lock)."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable ) > requirements.lock
	rm -rf .lock-venv

browser:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "Installing Debian's Chromium for the browser tests"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	fi

db: install
	$(FLASK) db upgrade

demo: install
	$(RUN_ENV) $(FLASK) demo load

# The web server, the outbox worker and the periodic jobs (Procfile), until Ctrl-C.
serve: install
	@echo "Starting the portal on http://127.0.0.1:$(PORT)/ (web, mail, jobs); Ctrl-C stops all."
	@echo "E-mail is not sent in development: each message is written to instance/mail/ as a .eml file."
	@echo "Back office: http://127.0.0.1:$(PORT)/staff/ (the demo account is printed above)."
	$(RUN_ENV) $(BIN)/honcho start -f Procfile -p $(PORT)

# TEST_WORKERS workers, each with its own SQLite files and PostgreSQL schema.
# Tests marked `timing` are left out (pyproject.toml): `make bench` runs them.
test: install-test browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

# The tests that hold the portal to the clock, one at a time so that they measure the portal
# rather than each other; bench/README.md has the benchmarks run by hand.
bench: install-test
	$(BIN)/python -m pytest -m timing

clean:
	rm -rf $(VENV) instance .pytest_cache .hypothesis
