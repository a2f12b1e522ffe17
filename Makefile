# Two commands for maintainers (see README.md):
#   make html   build the website into _build/html (creates .venv on first use)
#   make test   run every test (creates .venv on first use)
# Deliberate, slower commands that rewrite committed files:
#   make notebooks   re-execute the MyST sources into the committed .ipynb files
#   make figures     refresh the reference images in figures/ from those notebooks
#   make exercises   regenerate student notebooks and checks from each exercise's single source
#   make html-student  build the website without any solution into _build/student-site
#   make grade EXERCISE=name SUBMISSIONS=folder   grade submissions into a CSV score table
#   make benchmark   measure execution cost cold and warm, and compare samplers (benchmarks/)
#   make lock        re-resolve requirements.in into requirements.lock and environment.yml

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready

# Kernels started by the build and the tests must be this venv's Python, whatever
# kernelspecs the machine has elsewhere.
export JUPYTER_PATH := $(CURDIR)/$(VENV)/share/jupyter
export JUPYTER_PLATFORM_DIRS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: html html-student test notebooks figures exercises grade benchmark lock env clean

html: $(READY)
	$(BIN)/python tools/build_book.py

test: $(READY)
	$(BIN)/python -m pytest

notebooks: $(READY)
	$(BIN)/python tools/execute_notebooks.py $(PAGES)

exercises: $(READY)
	$(BIN)/python tools/exercise_products.py

html-student: $(READY)
	$(BIN)/python tools/build_student_site.py

grade: $(READY)
	@test -n "$(EXERCISE)" -a -n "$(SUBMISSIONS)" || (echo "usage: make grade EXERCISE=shrinkage-arithmetic SUBMISSIONS=path/to/folder [TIMEOUT=300]"; exit 2)
	$(BIN)/python tools/grade.py $(EXERCISE) $(SUBMISSIONS) $(if $(TIMEOUT),--timeout $(TIMEOUT))

benchmark: $(READY)
	$(BIN)/python tools/benchmark.py

figures: $(READY)
	$(BIN)/python tools/update_figures.py

env: $(READY)

$(READY): requirements.lock pyproject.toml tools/vendor_assets.py
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required: run make PYTHON=/path/to/python3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --editable .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" >/dev/null
	$(BIN)/python tools/vendor_assets.py
	touch $(READY)

lock:
	rm -rf $(VENV)-lock
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/python -m pip install --quiet -r requirements.in
	$(VENV)-lock/bin/python tools/write_lock.py $(VENV)-lock/bin/python
	rm -rf $(VENV)-lock

clean:
	rm -rf _build
