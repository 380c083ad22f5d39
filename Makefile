# The two commands of the README. Both create .venv on first use (set-up included).
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
PY    := $(BIN)/python
TORCH := torch==2.14.1 torchvision==0.29.1
N_WORKERS ?= 2
DEMO_OUT ?= runs/demo
# Methods whose 'cpu' preset fits the demo's 10 minutes on 2 cores (pipelines that train a GAN take longer:
# run them with exp_benchmark's 'methods' parameter or their own experiment notebooks).
DEMO_METHODS ?= full,centre_prior,grabcut,spectral_residual,supervised_unet

.PHONY: venv test demo sync-check figures clean readme

$(VENV)/.installed: settings.ini setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

venv: $(VENV)/.installed

# Notebooks are the source of truth: cleaning and exporting must change nothing that is committed.
sync-check: venv
	$(BIN)/nbdev_clean
	@git diff --quiet -- nbs || { git diff --stat -- nbs; echo "nbdev_clean changed notebooks: run nbdev_clean and commit"; exit 1; }
	$(BIN)/nbdev_export
	@test -z "$$(git status --porcelain --untracked-files=all -- gannotate)" || { git status --porcelain -- gannotate; echo "gannotate/ is not in sync with nbs/: run nbdev_export and commit"; exit 1; }

test: sync-check
	OMP_NUM_THREADS=1 $(BIN)/nbdev_test --n_workers $(N_WORKERS) --timing
	$(BIN)/pytest -q tests/

demo: venv
	mkdir -p $(DEMO_OUT)
	$(BIN)/papermill nbs/experiments/exp_benchmark.ipynb $(DEMO_OUT)/exp_benchmark.ipynb \
		-p preset cpu -p out_dir $(abspath $(DEMO_OUT)) -p methods $(DEMO_METHODS) --cwd nbs/experiments
	$(PY) -c "from gannotate.benchmark import print_table; print_table('$(DEMO_OUT)/metrics.json')"

# Regenerate paper_figures/ from a demo run.
figures: demo
	cp $(DEMO_OUT)/*.png paper_figures/

clean:
	rm -rf runs _proc _docs

# README.md is index.ipynb rendered as markdown (Quarto is unavailable here): regenerate after editing index.
readme: venv
	$(PY) -c "import json; nb=json.load(open('nbs/index.ipynb')); \
	out=[''.join(c['source']) if c['cell_type']=='markdown' else '\x60\x60\x60python\n'+''.join(c['source'])+'\n\x60\x60\x60' for c in nb['cells']]; \
	open('README.md','w').write('\n\n'.join(out)+'\n')"
