# Two commands for maintainers (see README.md); both create .venv on first use:
#   make html    build the website into _build/html, from the committed executed notebooks
#   make test    run every test (what CI runs)
# Quicker and deliberate commands:
#   make check         the fast tier: every test that needs no notebook execution, site build or browser
#   make notebooks     execute the MyST sources into the committed .ipynb files (PAGES=... for some)
#   make figures       refresh the reference images in figures/ from those notebooks
#   make exercises     regenerate student notebooks and checks from each exercise's single source
#   make colab-cells   rewrite every source's Colab set-up cell from the lock and the release
#   make format        ruff-format the pages' code cells at 88 columns (notebooks keep their outputs)
#   make html-student  build the website without any solution into _build/student-site/html
#   make pdf           the whole book as one PDF, _build/pdf/book.pdf (printed by the system Chromium)
#   make grade EXERCISE=name SUBMISSIONS=folder [FRESH=1] [TIMEOUT=300] [JOBS=2] [UNISOLATED=1]
#                      grade a folder of submissions, each in a bubblewrap sandbox (GRADING.md)
#   make gradescope EXERCISE=name   the Gradescope autograder zip, _build/gradescope/<name>.zip
#   make public        export what students may see into _build/public (a public repository's contents)
#   make benchmark     measure execution cost cold and warm, compare samplers, and time the
#                      slowest notebooks' path on a fresh simulated Colab (benchmarks/)
#   make robustness [SEEDS=50] [ONLY="exercises/non-centred.md ..."]
#                      rerun every page and answer key at N seeds: how often each check and claim holds
#   make lock          re-resolve requirements.in into requirements.lock, environment.yml and
#                      requirements-nodeps.txt (Binder)

VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready

# Kernels started by the build and the tests must be this venv's Python, whatever
# kernelspecs the machine has elsewhere.
export JUPYTER_PATH := $(CURDIR)/$(VENV)/share/jupyter
export JUPYTER_PLATFORM_DIRS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: html html-student check test notebooks figures exercises colab-cells format grade gradescope public pdf benchmark robustness lock env clean

html: $(READY)
	$(BIN)/python tools/build_site.py main

html-student: $(READY)
	$(BIN)/python tools/build_site.py student

pdf: $(READY)
	$(BIN)/python tools/build_pdf.py

check: $(READY)
	$(BIN)/python -m pytest -m "not slow"

test: $(READY)
	$(BIN)/python -m pytest

notebooks: $(READY)
	$(BIN)/python tools/execute_notebooks.py $(PAGES)

exercises: $(READY)
	$(BIN)/python tools/student_materials.py

grade: $(READY)
	@test -n "$(EXERCISE)" -a -n "$(SUBMISSIONS)" || (echo "usage: make grade EXERCISE=shrinkage-arithmetic SUBMISSIONS=path/to/folder [FRESH=1] [TIMEOUT=300] [JOBS=2] [UNISOLATED=1]"; exit 2)
	$(BIN)/book-grade grade "$(EXERCISE)" "$(SUBMISSIONS)" --book . $(if $(TIMEOUT),--timeout "$(TIMEOUT)") $(if $(JOBS),--jobs "$(JOBS)") $(if $(FRESH),--fresh) $(if $(UNISOLATED),--unisolated)

gradescope: $(READY)
	@test -n "$(EXERCISE)" || (echo "usage: make gradescope EXERCISE=shrinkage-arithmetic"; exit 2)
	$(BIN)/book-grade gradescope "$(EXERCISE)" --book .

public: $(READY)
	$(BIN)/python tools/export_public.py

benchmark: $(READY)
	$(BIN)/python tools/benchmark.py

robustness: $(READY)
	$(BIN)/python tools/robustness.py $(if $(SEEDS),--seeds "$(SEEDS)") $(if $(ONLY),--only $(ONLY))

colab-cells: $(READY)
	$(BIN)/python tools/colab_setup.py

format: $(READY)
	$(BIN)/python tools/format_pages.py

figures: $(READY)
	$(BIN)/python tools/update_figures.py

env: $(READY)

# The environment: a venv from a Python 3.13 that tools/find-python locates (or explains how to
# get), filled from the lock by uv. A venv from another Python is replaced.
$(READY): requirements.lock pyproject.toml tools/vendor_assets.py
	@python=$$(PYTHON="$(PYTHON)" tools/find-python) || exit 1; \
	if ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then \
	    rm -rf $(VENV) && echo "creating $(VENV) with $$python" && $$python -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$$(grep '^uv==' requirements.lock)"
	$(BIN)/uv pip sync --quiet --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps --editable .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (ipykernel)" >/dev/null
	$(BIN)/python tools/vendor_assets.py
	touch $(READY)

lock: $(READY)
	$(BIN)/python tools/write_lock.py

clean:
	rm -rf _build
