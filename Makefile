# radguard — the two commands of the quick start are `make demo` and `make test`.
# Both bootstrap what they need: Debian packages (as root, via apt-get) and a .venv.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := dcmtk orthanc orthanc-dicomweb postgresql nmap tshark tcpdump openssl rsyslog graphviz \
  poppler-utils libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
  chromium chromium-driver nftables
# commands whose presence tells that the system packages are installed
APT_PROBES := storescp dcmqrscp Orthanc /usr/share/orthanc/plugins/libOrthancDicomWeb.so nmap tshark tcpdump openssl \
  rsyslogd dot /usr/lib/postgresql/15/bin/initdb pdftoppm /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
  /usr/bin/chromium /usr/bin/chromedriver /usr/sbin/nft
# shared libraries WeasyPrint loads (ldconfig names)
APT_LIBS := libpangoft2-1.0.so.0 libharfbuzz-subset.so.0

.PHONY: demo test lint unit bootstrap system-deps clean bench docs fuzz

demo: bootstrap
	TCP_NODELAY=1 $(VENV)/bin/radguard demo

test: bootstrap
	$(VENV)/bin/ruff check src tests benchmarks fuzz
	$(VENV)/bin/mypy
	TCP_NODELAY=1 $(VENV)/bin/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: bootstrap
	$(VENV)/bin/ruff check src tests benchmarks fuzz
	$(VENV)/bin/mypy

unit: bootstrap
	$(VENV)/bin/pytest -q tests/unit

bootstrap: system-deps $(VENV)/.installed

system-deps:
	@missing=0; for p in $(APT_PROBES); do command -v $$p >/dev/null 2>&1 || [ -e $$p ] || missing=1; done; \
	for l in $(APT_LIBS); do ldconfig -p | grep -q "$$l" || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "radguard: run as root (or install: $(APT_PACKAGES))" >&2; exit 2; fi; \
	  echo "installing Debian packages: $(APT_PACKAGES)" >&2; \
	  ours=0; if [ ! -e /usr/sbin/policy-rc.d ]; then ours=1; printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; \
	    chmod +x /usr/sbin/policy-rc.d; fi; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; rc=$$?; \
	  [ $$ours = 0 ] || rm -f /usr/sbin/policy-rc.d; \
	  [ $$rc = 0 ] || exit $$rc; \
	fi
# No service of the machine is stopped, started or reconfigured: policy-rc.d (101) keeps apt from starting the
# services it installs, and tests and the demo start their own peers on free loopback ports.

$(VENV)/.installed: pyproject.toml setup.py src/radguard/dicom/_speedups.c
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

docs: bootstrap
	$(PY) -m radguard.rulebook --markdown > docs/rules.md
	RADGUARD_SCREENSHOTS=docs/img/web TCP_NODELAY=1 $(VENV)/bin/pytest -q -p no:cacheprovider tests/e2e/test_web_browser.py

# The long fuzzing run (not in CI; docs/fuzzing.md): each target until FUZZ_RUNS executions or FUZZ_SECONDS,
# FUZZ_JOBS targets at once (about 3 hours on 2 cores), corpus and crashes kept in .fuzz/ between runs.
# The short run is tests/unit/test_fuzz_targets.py.
FUZZ_RUNS ?= 1000000
FUZZ_SECONDS ?= 14400
FUZZ_JOBS ?= 2
fuzz: bootstrap
	$(PY) fuzz/run.py --runs $(FUZZ_RUNS) --seconds $(FUZZ_SECONDS) --jobs $(FUZZ_JOBS) --record-captures $(FUZZ_TARGETS)

bench: bootstrap
	@for b in benchmarks/*.py; do echo "== $$b"; TCP_NODELAY=1 $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache .fuzz
	find src -name "*.so" -delete
