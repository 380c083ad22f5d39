"""Every registered method is reachable after one import of `gannotate.methods`, in a fresh Python, without
circular imports; `PIPELINE_MODULES` lists every module that registers a method or a segmenter kind."""
import ast, json, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, 'GANNOTATE_DEVICE': 'cpu', 'OMP_NUM_THREADS': '1'}


def fresh(code: str, cwd) -> str:
    "Run `code` in a new interpreter; return its stdout (stderr shown on failure)."
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=ENV, cwd=cwd, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return r.stdout


def registering_modules() -> set:
    "Modules of the package whose source calls register_method or register_segmenter."
    mods = set()
    for f in (ROOT / 'gannotate').glob('*.py'):
        tree = ast.parse(f.read_text())
        calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        decos = {d.id for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                 for d in n.decorator_list if isinstance(d, ast.Name)}
        decos |= {d.func.id for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))
                  for d in n.decorator_list if isinstance(d, ast.Call) and isinstance(d.func, ast.Name)}
        if {'register_method', 'register_segmenter'} & (calls | decos): mods.add(f'gannotate.{f.stem}')
    return mods


def test_pipeline_modules_lists_every_registering_module():
    from gannotate.methods import PIPELINE_MODULES
    assert registering_modules() - {'gannotate.methods'} == set(PIPELINE_MODULES)


def test_one_import_lists_every_method(tmp_path):
    "The registry lists exactly what importing every module by hand registers, and imports nothing before it is asked."
    by_hand = json.loads(fresh("import importlib, json\nfrom gannotate.methods import METHODS, SEGMENTER_KINDS, PIPELINE_MODULES\n"
                               "for m in PIPELINE_MODULES: importlib.import_module(m)\n"
                               "print(json.dumps([sorted(METHODS._d), sorted(SEGMENTER_KINDS._d)]))", tmp_path))
    lazy = json.loads(fresh("import sys, json\nfrom gannotate.methods import METHODS, SEGMENTER_KINDS, PIPELINE_MODULES\n"
                            "before = [m for m in PIPELINE_MODULES if m in sys.modules]\n"
                            "print(json.dumps([before, sorted(METHODS), sorted(SEGMENTER_KINDS)]))", tmp_path))
    assert lazy[0] == [] and lazy[1:] == by_hand
    assert {'layered_gan', 'move', 'melas_kyriazi', 'voynov', 'voynov_e', 'labels4free', 'perturbgan_encoder'} <= set(lazy[1])


def test_fit_save_and_load_a_gan_method_after_one_import(tmp_path):
    "Fit a GAN pipeline by name, save it; a second fresh Python loads its own segmenter kind by importing gannotate.methods only."
    out = fresh("import torch; torch.set_num_threads(1)\n"
                "from gannotate.methods import fit_method, method_config\n"
                "from gannotate.data import ToyScenes\n"
                "assert method_config('melas_kyriazi', 'smoke')['res'] > 0\n"
                "seg = fit_method('perturbgan_encoder', ToyScenes('train', n=16, res=16), progress=False)\n"
                "seg.save('seg.pt'); print(type(seg).__name__, seg.method)", tmp_path)
    assert out.split() == ['EncoderSegmenter', 'perturbgan_encoder']
    out = fresh("import torch\nfrom gannotate.methods import load_segmenter\n"
                "seg = load_segmenter('seg.pt')\n"
                "print(type(seg).__name__, seg.method, tuple(seg.predict(torch.rand(2, 3, 16, 16)).shape))", tmp_path)
    assert out.split() == ['EncoderSegmenter', 'perturbgan_encoder', '(2,', '1,', '16,', '16)']


def test_no_circular_import_whatever_module_comes_first(tmp_path):
    "Each module imported first into a clean package state (torch stays loaded: only gannotate's imports matter)."
    out = fresh("import sys, importlib\nfrom gannotate.methods import PIPELINE_MODULES\n"
                "for first in ('gannotate.cli', 'gannotate.benchmark', *PIPELINE_MODULES):\n"
                "    for k in [k for k in sys.modules if k.startswith('gannotate')]: del sys.modules[k]\n"
                "    importlib.import_module(first)\n"
                "    from gannotate.methods import METHODS, fit_method\n"
                "    assert 'voynov' in METHODS and 'move' in METHODS, first\n"
                "    print(first, len(METHODS))\n"
                "try: fit_method('nope', [])\nexcept KeyError as e: print(e)", tmp_path)
    lines = out.splitlines()
    assert len(lines) == 8 and len({l.split()[1] for l in lines[:7]}) == 1, out      # the same registry every time
    assert "unknown method 'nope'" in lines[-1] and "'melas_kyriazi'" in lines[-1] and "'labels4free'" in lines[-1], out
