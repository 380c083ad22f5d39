"""The front page and the docstrings a new user reads: the README's quick start runs as written in a fresh
Python in an empty folder, its method table names every registered method with the module that registers it,
`import gannotate` says where to start, and every module docstring is a whole sentence."""
import ast, importlib, json, os, re, shutil, subprocess, sys, warnings
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / 'README.md').read_text()
ENV = {**os.environ, 'GANNOTATE_DEVICE': 'cpu', 'OMP_NUM_THREADS': '1'}


def section(title: str) -> str:
    m = re.search(rf'^## {re.escape(title)}\n(.*?)(?=^## |\Z)', README, re.S | re.M)
    assert m, f"README.md has no '## {title}' section"
    return m.group(1)


def fenced(text: str, lang: str) -> list:
    return re.findall(rf'^```{lang}\n(.*?)^```', text, re.S | re.M)


def test_quick_start_runs_as_written(tmp_path):
    "The Python block in a fresh interpreter in an empty folder, then the shell block on what it saved."
    qs = section('Quick start')
    (py,), (sh,) = fenced(qs, 'python'), fenced(qs, 'bash')
    r = subprocess.run([sys.executable, '-c', py], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    names, scores = r.stdout.strip().splitlines()[-2:]
    assert 'melas_kyriazi' in names and 'labels4free' in names, names
    assert ast.literal_eval(scores)['iou'] > 0.5, scores                 # GrabCut on ToyScenes 96 px: ≈ 0.8
    assert (tmp_path / 'grabcut.pt').is_file() and (tmp_path / 'layered_gan.pt').is_file()
    bindir = str(Path(sys.executable).parent)
    r = subprocess.run(sh, shell=True, cwd=tmp_path, env={**ENV, 'PATH': bindir + os.pathsep + ENV['PATH']},
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert len(list((tmp_path / 'masks').glob('*.png'))) == 64, r.stdout


def test_method_table_names_every_method_and_its_module():
    from gannotate.methods import METHODS
    rows = re.findall(r'^\| `(\w+)`( †)? \|.*\| `(gannotate\.\w+)` \|$', section('Methods'), re.M)
    table = {n: mod for n, _, mod in rows}
    assert sorted(table) == sorted(METHODS), sorted(set(table) ^ set(METHODS))
    assert {n: METHODS[n].fit.__module__ for n in METHODS} == table
    assert {n for n, dagger, _ in rows if dagger} == {n for n in METHODS if METHODS[n].supervised}


def test_readme_links_every_experiment_notebook():
    for nb in sorted((ROOT / 'nbs' / 'experiments').glob('exp_*.ipynb')):
        assert f'](nbs/experiments/{nb.name})' in README, nb.name


def test_readme_has_one_results_table_and_no_lab_diary():
    assert README.count('| dataset | method | IoU |') == 1
    assert not re.search(r'^#+ .*\(20\d\d-\d\d-\d\d\)', README, re.M), 'dated sections belong in the experiment notebooks'


def test_import_gannotate_says_where_to_start():
    import gannotate
    doc = gannotate.__doc__ or ''
    for s in ('foreground/background segmenter', 'fit_method', 'load_segmenter', 'gannotate-segment', 'README'):
        assert s in doc, s
    assert re.search(r'^__version__ = "[^"]+"$', (ROOT / 'gannotate' / '__init__.py').read_text(), re.M)


MODULES = sorted(p.stem for p in (ROOT / 'gannotate').glob('*.py') if not p.stem.startswith('_'))


@pytest.mark.parametrize('name', MODULES)
def test_module_docstring_is_a_whole_sentence(name):
    "nbdev writes the first '> ' line of a notebook's first markdown cell: it must hold the whole description."
    with warnings.catch_warnings():
        warnings.simplefilter('error')                                  # an invalid escape in a docstring fails here
        src = (ROOT / 'gannotate' / f'{name}.py').read_text()
        doc = ast.get_docstring(ast.parse(src))
    assert doc, f'gannotate.{name} has no docstring'
    assert doc.rstrip().endswith('.') and '\n' not in doc.strip(), doc
    assert '**' not in doc and '$' not in doc, doc
