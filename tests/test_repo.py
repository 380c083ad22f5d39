"""Repository-level checks that do not fit in a notebook: layout, README/index consistency, console script."""
import configparser, json, re, shutil, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_top_level_layout():
    for name in ['settings.ini', 'README.md', 'nbs', 'gannotate', 'tests', 'paper_figures', 'Makefile', 'setup.py']:
        assert (ROOT / name).exists(), name


def test_settings_keep_papermill_tags_and_test_flags():
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini')
    d = cfg['DEFAULT']
    assert d['allowed_cell_metadata_keys'].strip() == 'tags'
    assert set(d['tst_flags'].split()) == {'slow', 'cuda'}
    assert d['recursive'].strip() == 'True'


def _markdown_of_index():
    nb = json.loads((ROOT / 'nbs' / 'index.ipynb').read_text())
    return [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown']


def _norm(s):
    return re.sub(r'\s+', ' ', s).strip()


def test_readme_matches_index_notebook():
    "README.md is index.ipynb's markdown (Quarto is unavailable to regenerate it): every block appears in order."
    readme = _norm((ROOT / 'README.md').read_text())
    pos = 0
    for block in _markdown_of_index():
        i = readme.find(_norm(block), pos)
        assert i >= 0, f"README.md lacks this index.ipynb block:\n{block[:300]}"
        pos = i + 1


def test_readme_has_the_two_commands():
    text = (ROOT / 'README.md').read_text()
    assert 'make demo' in text and 'make test' in text
    assert (ROOT / '.ci' / 'run').read_text().strip().splitlines()[-1] == 'make test'


def test_console_script_is_installed():
    exe = shutil.which('gannotate-segment', path=str(Path(sys.executable).parent))
    assert exe, 'gannotate-segment is not on the venv PATH'
    r = subprocess.run([exe, '--help'], capture_output=True, text=True)
    assert r.returncode == 0 and '--checkpoint' in r.stdout
