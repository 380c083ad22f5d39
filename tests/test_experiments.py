"""The experiment contract: every nbs/experiments/exp_*.ipynb has exactly one papermill `parameters` cell with
the common names, and papermill really injects values into it (nbdev_clean keeps the tag)."""
import ast, json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = sorted((ROOT / 'nbs' / 'experiments').glob('exp_*.ipynb'))
COMMON = {'preset', 'device', 'out_dir'}
EXTRA = {'exp_benchmark': {'methods', 'train_dir', 'eval_dirs'}}


def parameter_cells(nb_path):
    nb = json.loads(nb_path.read_text())
    return [c for c in nb['cells'] if 'parameters' in c.get('metadata', {}).get('tags', [])]


def assigned_names(src):
    return {t.id for node in ast.parse(src).body if isinstance(node, ast.Assign) for t in node.targets
            if isinstance(t, ast.Name)}


def test_there_are_experiments():
    assert any(p.stem == 'exp_benchmark' for p in EXPERIMENTS), EXPERIMENTS


@pytest.mark.parametrize('nb', EXPERIMENTS, ids=lambda p: p.stem)
def test_one_parameters_cell_with_the_contract_names(nb):
    cells = parameter_cells(nb)
    assert len(cells) == 1, f"{nb.name}: {len(cells)} cells tagged 'parameters' (need exactly one)"
    names = assigned_names(''.join(cells[0]['source']))
    need = COMMON | EXTRA.get(nb.stem, set())
    assert need <= names, f"{nb.name}: parameters cell lacks {sorted(need - names)}"


@pytest.mark.parametrize('nb', EXPERIMENTS, ids=lambda p: p.stem)
def test_smoke_is_the_default_preset(nb):
    src = ''.join(parameter_cells(nb)[0]['source'])
    values = {t.id: node.value for node in ast.parse(src).body if isinstance(node, ast.Assign)
              for t in node.targets if isinstance(t, ast.Name)}
    assert ast.literal_eval(values['preset']) == 'smoke'


def test_papermill_injects_parameters(tmp_path):
    "Run exp_benchmark headless with overridden parameters: only the asked-for methods appear in metrics.json."
    out = tmp_path / 'run'
    cmd = [sys.executable, '-m', 'papermill', str(ROOT / 'nbs/experiments/exp_benchmark.ipynb'),
           str(tmp_path / 'out.ipynb'), '-p', 'out_dir', str(out), '-p', 'methods', 'full,centre_prior',
           '--cwd', str(ROOT / 'nbs/experiments'), '--no-progress-bar', '-k', 'python3']
    env = {**os.environ, 'GANNOTATE_DEVICE': 'cpu'}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    metrics = json.loads((out / 'metrics.json').read_text())
    assert list(metrics['toyscenes']) == ['full', 'centre_prior']
    for scores in metrics['toyscenes'].values():
        assert {'iou', 'acc', 'max_fbeta', 'mae', 'n_images', 'protocol', 'train_seconds'} <= set(scores)
    assert (out / 'predictions_toyscenes.png').stat().st_size > 1000


@pytest.mark.parametrize('nb', EXPERIMENTS, ids=lambda p: p.stem)
def test_papermill_sees_every_parameter(nb):
    "papermill's own parser must infer every name of the parameters cell (a '=' in a comment hides it)."
    import papermill
    inferred = set(papermill.inspect_notebook(str(nb)))
    names = assigned_names(''.join(parameter_cells(nb)[0]['source']))
    assert names <= inferred, f"{nb.name}: papermill does not see {sorted(names - inferred)}"


def _layered_smoke(tmp_path, extra):
    out = tmp_path / 'run'
    cmd = [sys.executable, '-m', 'papermill', str(ROOT / 'nbs/experiments/exp_layered_gan.ipynb'),
           str(tmp_path / 'out.ipynb'), '-p', 'out_dir', str(out), '-p', 'main_run', 'False', '-y', f'extra: {extra}',
           '--cwd', str(ROOT / 'nbs/experiments'), '--no-progress-bar', '-k', 'python3']
    return out, subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, 'GANNOTATE_DEVICE': 'cpu'}, timeout=600)


def test_layered_extra_settings_reach_the_config(tmp_path):
    "exp_layered_gan's `extra` dict overrides any method setting; an unknown one stops the run, naming it."
    out, r = _layered_smoke(tmp_path, '{latent_dim: 4, lr: 0.002}')
    assert r.returncode == 0, r.stderr[-3000:]
    cfg = json.loads((out / 'metrics.json').read_text())['config']
    assert (cfg['latent_dim'], cfg['lr']) == (4, 0.002)
    _, r = _layered_smoke(tmp_path, '{no_such_key: 1}')
    assert r.returncode != 0 and 'no_such_key' in r.stderr + r.stdout
