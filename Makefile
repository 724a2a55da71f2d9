# The two commands of the README, plus the environment they share.
#   make book   builds the whole book (default profile, CPU) into _build/html;
#               ARGS passes runner options, e.g. make book ARGS="-p dataset table -p data_path my.tsv"
#   make test   runs the test suite
# Both create .venv from requirements*.txt when it is missing or out of date.

PYTHON ?= python3
PROFILE ?= default
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: book test env browser clean

env: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.txt
	@touch $(STAMP)

book: $(STAMP)
	$(PY) -m analysis.run --profile $(PROFILE) $(ARGS)

# The survey-page test drives Debian's Chromium through Playwright (no browser download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser test"; \
	  SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# Two pytest workers with one BLAS/OpenMP thread each: on a 2-core machine the book's
# end-to-end tests then run side by side (measured from a clean clone: one worker took
# 1,617 s with six chapters, two workers 1,148 s with seven; two workers x 2 threads
# oversubscribe the cores, which slowed one BLAS call 50-fold). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: $(STAMP) browser
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	  $(PY) -m pytest tests $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist worksteal)

clean:
	rm -rf _build
