# Commands for readers and authors. On a fresh machine (Python 3.11+ and make)
# `make book` and `make test` are all that is needed: both create the virtual
# environment in .venv on first use and reinstall only when requirements.txt
# or pyproject.toml change.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REF_STAMP := $(VENV)/.installed-reference
# Chapters, in reading order. `make notebooks NOTEBOOKS=book/01_sliding_window.ipynb`
# re-executes just one.
NOTEBOOKS ?= $(sort $(wildcard book/[0-9][0-9]_*.ipynb))

.PHONY: env system book test unit lab notebooks bench train train-fashion train-blocks train-recipes pdf pdf-check student clean

env: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	touch $@

# The tests also need the reference extra: PyTorch (CPU build), ONNX Runtime, pycocotools.
$(REF_STAMP): $(STAMP)
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[book,reference]'
	touch $@

# The HTML book from the notebooks' saved outputs, warnings treated as errors.
book: $(STAMP)
	$(BIN)/jupyter-book build . --all -W -n --keep-going
	@echo "The book is at $(CURDIR)/_build/html/index.html"

# What the tests need from the system: Debian's chromium and Fashion-MNIST files.
system:
	@bash tools/system_deps.sh

# Unit tests (with the PyTorch comparisons), nbval (strict) over every notebook, a
# clean build and the browser test, on two workers. The options live in pyproject.toml.
test: $(REF_STAMP) system
	$(BIN)/python -m pytest

# The unit tests of cnnlib alone (well under 30 s).
unit: $(REF_STAMP)
	$(BIN)/python -m pytest -m unit tests -q

# JupyterLab on the chapters; widgets work out of the box (ipywidgets 8).
# (Jupyter refuses to run as root unless told; containers often are root.)
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=book $(if $(filter 0,$(shell id -u)),--allow-root)

# Re-execute chapters in place and save their outputs and widget state.
# Never edit outputs by hand: change the code and run this.
notebooks: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.store_widget_state=False \
		--ExecutePreprocessor.record_timing=False \
		--ExecutePreprocessor.timeout=600 \
		$(NOTEBOOKS)

bench: $(REF_STAMP)
	$(BIN)/python benchmarks/run.py

# The long runs of the training and ResNet chapters (a few minutes each).
train: $(STAMP)
	$(BIN)/python -m cnnlib.book.train_letters
	$(BIN)/python -m cnnlib.book.train_resnet_seeds
	$(BIN)/python -m cnnlib.book.training_demos

# The Fashion-MNIST runs of the real-data chapter: the small CNN and the ResNet with
# chapter 9's recipe on both cores (20 and 26 minutes), then the letters network
# on one (about 10 minutes).
train-fashion: $(STAMP) system
	$(BIN)/python -m cnnlib.book.train_fashion --models small_cnn resnet --schedule onecycle \
	    --lr 5e-3 --label-smoothing 0.1 --tta hflip
	$(BIN)/python -m cnnlib.book.train_fashion --models letters_cnn

# The modern-blocks comparison: four networks at two sizes, a learning-rate
# search for each, then three seeds at the best rate (on both cores), and the
# U-Net's skip on two tasks over five seeds (a few minutes).
train-blocks: $(STAMP) system
	$(BIN)/python -m cnnlib.book.compare_blocks
	$(BIN)/python -m cnnlib.book.segmentation --seeds 5

# The training-recipes ablation: 13 configurations, 3 seeds (about 6 CPU minutes).
train-recipes: $(STAMP) system
	$(BIN)/python -m cnnlib.book.recipe_ablation

# The book as a PDF, _build/pdf/book.pdf: a singlehtml build (in _build/pdf/, so
# _build/html stays as it is) printed by Debian's Chromium, with a title page and
# contents. Needs poppler-utils. `python tools/pdf.py --lenient` prints despite
# Sphinx warnings.
pdf: $(STAMP)
	$(BIN)/python tools/pdf.py

# Builds the PDF, then checks it: pages, chapter titles, images, no raw TeX.
# Not part of make test, to keep that under five minutes.
pdf-check: pdf
	$(BIN)/python tools/pdf.py --check

# The chapters without their worked solutions, for students, in _build/student/.
student: $(STAMP)
	$(BIN)/python tools/student.py

# Removes build output and caches; the environment stays (rm -rf .venv for that).
clean:
	rm -rf _build .pytest_cache *.egg-info
	find . -path ./$(VENV) -prune -o \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -print0 \
		| xargs -0 rm -rf
