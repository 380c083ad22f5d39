"""`make demo`'s wiring at smoke sizes: every method family trains from the shipped zoo weights on a ToyScenes
track (nothing is trained from scratch that the zoo provides), the merged table has a row per method, and the
Makefile's demo and gpu targets call what exists."""
import os, re, subprocess, sys
from pathlib import Path
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ['melas_kyriazi', 'voynov', 'labels4free', 'layered_gan', 'move']


def test_every_family_trains_from_the_zoo(tmp_path):
    torch.set_num_threads(1)
    from gannotate.benchmark import default_tracks, run_benchmark, results_table, DEMO_METHODS
    assert set(FAMILIES) <= set(DEMO_METHODS)
    track = default_tracks('smoke', names='toyscenes', zoo=True)
    # labels4free's smoke preset tops up (allowed by its preset); the others must not fail
    run = run_benchmark(track, methods=FAMILIES, preset='smoke', out_dir=tmp_path, progress=False, on_error='raise')
    rows = run.metrics['toyscenes']
    assert sorted(rows) == sorted(FAMILIES)
    assert all(rows[m]['settings'] for m in FAMILIES)               # each got its zoo weights
    assert all(0 <= rows[m]['iou'] <= 1 for m in FAMILIES)
    gen = run.segmenters['toyscenes']['layered_gan']
    assert gen.gan.step == 2855 and gen.gan.D is None              # the shipped generator file, not a fresh GAN
    assert results_table(run.metrics).count('| toyscenes |') == len(FAMILIES)


def test_makefile_targets_call_what_exists():
    mk = (ROOT / 'Makefile').read_text()
    methods = re.search(r'^DEMO_METHODS \?= (.*)$', mk, re.M).group(1).split(',')
    from gannotate.benchmark import DEMO_METHODS
    assert methods == list(DEMO_METHODS)
    assert '-p zoo True -p settings demo' in mk and '--profile gpu' in mk
    r = subprocess.run([str(Path(sys.executable).parent / 'gannotate-experiments'), '--profile', 'nope'],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "invalid choice: 'nope'" in r.stderr
