# duqhunt: make demo | make test | make fuzz | make bench | make lint
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO   ?= demo-out

.PHONY: all venv demo test fuzz bench lint mutate clean system-deps

all: demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,spark,image]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/duqhunt simulate --out $(DEMO)/sim --seed 7
	$(VENV)/bin/duqhunt hunt $(DEMO)/sim/zeek $(DEMO)/sim/host $(DEMO)/sim/mail --out $(DEMO)/report --allow $(DEMO)/sim/known-good.yaml
	@echo "report: $(DEMO)/report/report.html  (json: $(DEMO)/report/report.json)"

# tshark decodes pcap/pcapng inputs (Debian package); dosfstools + mtools and ntfs-3g build the
# FAT and NTFS disk images of the dissect.target tests without mounting; libfuzzy2 is ssdeep's
# library (`duqhunt similar`); chromium is the real browser of the report and web app tests
# (driven by Playwright). Installed when missing and we may (root with apt-get, as in CI);
# otherwise the tests that need them say what is missing.
SYSTEM_PACKAGES := tshark dosfstools mtools ntfs-3g libfuzzy2 chromium
system-deps:
	@command -v tshark >/dev/null 2>&1 && command -v mcopy >/dev/null 2>&1 && command -v mkntfs >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 && ldconfig -p | grep -q libfuzzy.so.2 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(SYSTEM_PACKAGES) (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	  else \
	    echo "not all of $(SYSTEM_PACKAGES) are installed: apt-get install $(SYSTEM_PACKAGES)"; \
	  fi; }

# make test: the whole suite; property tests run a fixed (derandomized) set of examples.
test: $(STAMP) system-deps
	$(PY) -m pytest -q

# make fuzz: only the property tests (Hypothesis), with a new random seed each run and
# FUZZ_FACTOR (tests/testsupport.py) times the examples: about 14 minutes on 2 cores, bounded by
# the number of examples, not by time. A failure prints the example and a seed to replay it.
fuzz: $(STAMP) system-deps
	DUQHUNT_HYPOTHESIS=fuzz $(PY) -m pytest -q -m hypothesis

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks tools
	$(VENV)/bin/mypy

# ZEEK_GIT: a git directory (or clone) of zeek/zeek for the pcap parity figures; without it
# make bench says how to get one and checks the committed Zeek traces only
ZEEK_GIT ?=
bench: $(STAMP) system-deps
	$(PY) benchmarks/run.py
	$(PY) benchmarks/pcap_bench.py
	ZEEK_GIT="$(ZEEK_GIT)" $(PY) benchmarks/zeek_parity.py --bench
	$(PY) -m duqhunt.hostscan --bench tests/data/host
	$(PY) benchmarks/evtx_rate.py
	$(PY) benchmarks/docs_bench.py
	$(PY) benchmarks/web_bench.py
	$(PY) benchmarks/similarity_bench.py

# Mutation score of detectors/, sources/, model/ (mutmut, sampled) and of the detector SQL (our
# own mutator), bounded in time (45 min; each module group gets its share, so every package is
# reached); writes benchmarks/results-mutation.md. Resumes from build/mutate: run it again to
# extend a score, or slice it: MUTATE_ARGS="--groups sources-net --budget-min 30".
MUTATE_ARGS ?=
mutate: $(STAMP)
	nice -n 10 $(PY) benchmarks/mutate.py $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
