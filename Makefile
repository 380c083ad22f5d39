# The two commands of the README. Both create .venv on first use (set-up included).
SHELL := /bin/bash
VENV  := .venv
BIN   := $(VENV)/bin
PY    := $(BIN)/python
TORCH := torch==2.14.1 torchvision==0.29.1
N_WORKERS ?= 2
DEMO_OUT ?= runs/demo
# make demo: every method family on the shipped weights (gannotate/weights), one process of one thread per track.
DEMO_TRACKS ?= toyscenes weizmann_horse
DEMO_METHODS ?= full,centre_prior,grabcut,spectral_residual,supervised_unet,melas_kyriazi,voynov,labels4free,layered_gan,move

.PHONY: venv test demo gpu sync-check figures clean readme

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
	@pids=""; for t in $(DEMO_TRACKS); do mkdir -p $(DEMO_OUT)/$$t; \
	  echo "demo: $$t -> $(DEMO_OUT)/$$t (log: $(DEMO_OUT)/$$t/log.txt)"; \
	  OMP_NUM_THREADS=1 $(BIN)/papermill nbs/experiments/exp_benchmark.ipynb $(DEMO_OUT)/$$t/exp_benchmark.ipynb \
	    -p preset cpu -p zoo True -p settings demo -p on_error record -p tracks $$t -p methods $(DEMO_METHODS) \
	    -p out_dir $(abspath $(DEMO_OUT))/$$t --cwd nbs/experiments > $(DEMO_OUT)/$$t/log.txt 2>&1 & pids="$$pids $$!"; done; \
	rc=0; for p in $$pids; do wait $$p || rc=1; done; \
	if [ $$rc != 0 ]; then tail -n 30 $(DEMO_OUT)/*/log.txt; echo "make demo: a track failed (logs above)"; exit 1; fi
	$(PY) -c "from gannotate.benchmark import merge_metrics, print_table; \
	merge_metrics([f'$(DEMO_OUT)/{t}/metrics.json' for t in '$(DEMO_TRACKS)'.split()], '$(DEMO_OUT)/metrics.json'); \
	print_table('$(DEMO_OUT)/metrics.json')"

# The paper presets of every experiment, scaled to ~10 minutes on one GPU: one metrics.json + figures/ in runs/gpu.
gpu: venv
	$(BIN)/gannotate-experiments --profile gpu --out runs/gpu

# Regenerate paper_figures/ from a demo run.
figures: demo
	for t in $(DEMO_TRACKS); do cp $(DEMO_OUT)/$$t/predictions_$$t.png paper_figures/; done

clean:
	rm -rf runs _proc _docs

# README.md is index.ipynb rendered as markdown (Quarto is unavailable here): regenerate after editing index.
readme: venv
	$(PY) -c "import json; nb=json.load(open('nbs/index.ipynb')); \
	out=[''.join(c['source']) if c['cell_type']=='markdown' else '\x60\x60\x60python\n'+''.join(c['source'])+'\n\x60\x60\x60' for c in nb['cells']]; \
	open('README.md','w').write('\n\n'.join(out)+'\n')"
