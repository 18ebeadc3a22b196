# bassl: every target sets up .venv first (pinned by constraints.txt), so each works on a fresh machine.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: env browser screenshots docs docs-serve demo lab tensorboard test test-slow bench bench-objective bench-features bench-video yardstick readme clean-data
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

env: $(STAMP)

$(STAMP): settings.ini setup.py constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'pip==26.3'
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# Debian's Chromium for the browser tests (widgets in JupyterLab, the docs site): never a browser downloaded by a test tool
browser:
	test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }

# the main job on built-in data: synthetic dataset, BaSSL pre-training -> features -> fine-tuning, against a random encoder
demo: env
	$(BIN)/bassl demo data/synthetic

# JupyterLab from the project's environment, opened on the tutorial (a notebook's kernel starts in its own folder: README's lines work there)
lab: env
	$(BIN)/jupyter lab nbs/32_tutorial.ipynb

# every run's curves (losses, kNN precision, fine-tuning loss) side by side, on http://localhost:6006
tensorboard: env
	$(BIN)/tensorboard --logdir runs

# nbdev_test runs two notebooks at a time, each in its worker process: half the cores' threads each (torch's default, a
# thread per core in both, oversubscribes: notebooks 26 and 27 side by side took 111 s so, 48 s with one thread each, 2 cores)
NB_THREADS := $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n > 2 ? n / 2 : 1 )))

# every notebook as tests, then the pytest suite (console command, multi-process and end-to-end checks)
# (in a temporary folder of their own, bassl's cache included, removed afterwards, pass or fail: nothing left behind)
test: env browser
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && export TMPDIR="$$tmp" XDG_CACHE_HOME="$$tmp/cache" && \
	  OMP_NUM_THREADS=$(NB_THREADS) $(BIN)/nbdev_test --n_workers 2 && $(BIN)/pytest -q tests

# notebook cells flagged `#| slow` (full-size synthetic data and the like)
test-slow: env
	OMP_NUM_THREADS=$(NB_THREADS) $(BIN)/nbdev_test --n_workers 2 --flags slow

# loading: images/s per worker (PIL per frame, one call per clip, the worker half, the device half on CPU) and delivered end to end with 1 and 2 workers
bench: env
	$(BIN)/python bench/loading.py

# forward + backward of the full-size BaSSL objective at B = 64 and 256: eager and compiled, against the original implementation's structure, and the matmul share of the step
bench-objective: env
	$(BIN)/python bench/objective.py

# your own videos: shot detection per detector (hard cuts, dissolves and fades), CPU frames/s at 240p/720p/1080p, memory on long videos
bench-video: env
	$(BIN)/python bench/video.py

# the machine yardstick a study records (study.json): seconds of one forward + backward of a ResNet-18 on 64 images of 64x64 on the CPU
yardstick: env
	$(BIN)/python bench/yardstick.py

# 17-shot feature windows per second: the feature store against one .npy file per shot; a batch window by window or at once
bench-features: env
	$(BIN)/python bench/features.py

# the docs site: nbdev's processing of nbs/ (examples run), rendered by Sphinx + myst-nb into _docs/, fully offline
docs: env
	$(BIN)/python docs/build.py

# preview the docs site on http://127.0.0.1:8000 (builds it first when _docs/ is missing)
docs-serve: env
	$(BIN)/python docs/build.py --serve

# README's widget screenshots: README's widget lines run in JupyterLab on this project's demo (run make demo first)
screenshots: env browser
	BASSL_WIDGET_PROJECT=$(CURDIR) $(BIN)/pytest -q tests/test_widgets_browser.py
	mkdir -p nbs/images
	cp tests/artifacts/explorer_after.png nbs/images/explorer.png
	cp tests/artifacts/viewer_clicked_shot.png nbs/images/viewer.png

readme: env
	$(BIN)/python .ci/readme.py

clean-data:
	rm -rf data/synthetic bench/out
