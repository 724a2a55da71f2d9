# The two commands of the README, plus the environment they share.
#   make book   builds the whole book (default profile, CPU) into _build/html
#   make test   runs the test suite
# Both create .venv from requirements*.txt when it is missing or out of date.

PYTHON ?= python3
PROFILE ?= default
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: book test env clean

env: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	@touch $(STAMP)

book: $(STAMP)
	$(PY) -m analysis.run --profile $(PROFILE)

test: $(STAMP)
	$(PY) -m pytest tests

clean:
	rm -rf _build
