# HPD3D developer commands. `make demo` and `make test` work on a fresh machine with python3 (3.11 for
# the bpy wheel) and pip: they create .venv and install what they need (bpy from PyPI included).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BPY_VERSION ?= 5.0.1
DEMO_OUT ?= demo_output

.PHONY: test demo addon bench crash fuzz clean venv

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e ".[dev,preview]" "bpy==$(BPY_VERSION)"
	touch $@

venv: $(VENV)/.installed

test: $(VENV)/.installed
	$(PY) -m pytest -q tests

demo: $(VENV)/.installed
	$(PY) -m hpd3d_addon generate hpd3d_addon/samples --subject S1 --out $(DEMO_OUT) --overwrite --preview
	$(PY) -m hpd3d_addon check $(DEMO_OUT)

addon: $(VENV)/.installed
	$(PY) tools/build_addon.py

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_generate.py

crash: $(VENV)/.installed
	nice -n 10 $(PY) tools/crash_test.py --cases 500

# Seeded fuzzing of every input kind (tools/fuzz.py): FUZZ_CASES cases over 2 processes, 2 GB and 60 s per case.
FUZZ_CASES ?= 10000
FUZZ_SEED ?= 0
fuzz: $(VENV)/.installed
	nice -n 10 $(PY) tools/fuzz.py --cases $(FUZZ_CASES) --seed $(FUZZ_SEED) --jobs 2

clean:
	rm -rf $(VENV) dist $(DEMO_OUT) .pytest_cache
