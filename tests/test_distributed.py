"""Data-parallel training under torchrun with the gloo backend on CPU: two processes must train like one."""
import json, os, subprocess, sys, textwrap
from pathlib import Path
import pytest

WORKER = textwrap.dedent('''
    import json, sys, torch
    torch.set_num_threads(1)
    from gannotate.dist import init_distributed, is_main, world_size
    from gannotate.gan import build_gan, build_loss, GANTrainer, image_sampler
    info = init_distributed()
    out, steps, seed, resume = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == 'resume'
    g = torch.Generator().manual_seed(0)
    real = torch.rand(64, 3, 16, 16, generator=g)                      # any fixed image set will do
    torch.manual_seed(seed)
    G, D = build_gan('stylegan', 16, preset='smoke', g_kwargs=dict(mix_prob=0.))
    tr = GANTrainer(G, D, build_loss('ns', 'smoke'), image_sampler(real), batch_size=8, lr_g=2e-3, lr_d=2e-3,
                    seed=seed, ckpt_dir=out + '/ck', ckpt_every=3, check_every=0, progress=False)
    if resume: assert tr.resume(), 'nothing to resume'
    tr.train(steps - tr.step)
    tr.snapshot()
    if is_main():
        json.dump(dict(world=world_size(), step=tr.step, d=[h['d_loss'] for h in tr.history], g=[h['g_loss'] for h in tr.history],
                       w=float(sum(p.double().sum() for p in tr.G.parameters()))), open(out + '/result.json', 'w'))
''')

def _run(tmp, name, nproc, steps, seed=0, resume=False, worker=WORKER, mode=None):
    out = tmp / name; out.mkdir(exist_ok=True)
    script = tmp / 'worker.py'; script.write_text(worker)
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'GANNOTATE_DEVICE': 'cpu'}
    args = [str(out), str(steps), str(seed), mode or ('resume' if resume else 'fresh')]
    cmd = ([sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc_per_node={nproc}', str(script)]
           if nproc > 1 else [sys.executable, str(script)])
    r = subprocess.run(cmd + args, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return json.loads((out / 'result.json').read_text())

@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('ddp')
    one = _run(tmp, 'one', 1, 12)
    two = _run(tmp, 'two', 2, 12)
    other_seed = _run(tmp, 'seed1', 1, 12, seed=1)
    part = _run(tmp, 'resumed', 2, 6)
    resumed = _run(tmp, 'resumed', 2, 12, resume=True)
    return dict(one=one, two=two, other_seed=other_seed, part=part, resumed=resumed)

def test_two_processes_follow_the_one_process_loss_curve(runs):
    one, two, other = runs['one'], runs['two'], runs['other_seed']
    assert two['world'] == 2 and one['world'] == 1 and len(two['d']) == len(one['d']) == 12
    # the first step is exact: same global batch, same weights, noise strengths start at zero
    assert abs(two['d'][0] - one['d'][0]) < 1e-5 and abs(two['g'][0] - one['g'][0]) < 1e-5
    gap = sum(abs(a - b) for a, b in zip(two['d'], one['d'])) / 12        # later steps differ by per-rank noise only
    seed_gap = sum(abs(a - b) for a, b in zip(other['d'], one['d'])) / 12
    print(f"mean |Δ d_loss|: two processes vs one {gap:.2e}; another seed vs one {seed_gap:.2e}")
    assert gap < 1e-2 and gap < seed_gap / 5

def test_a_resumed_two_process_run_continues(runs):
    part, resumed, two = runs['part'], runs['resumed'], runs['two']
    assert part['step'] == 6 and resumed['step'] == 12
    assert resumed['d'][:6] == part['d']                                   # the history is carried over
    gap = sum(abs(a - b) for a, b in zip(resumed['d'][6:], two['d'][6:])) / 6
    assert gap < 1e-2, gap                                                 # and training continues as without the break

def test_gannotate_train_under_torchrun(tmp_path):
    "The shell entry point: `torchrun -m gannotate.train gan ...` trains with two processes and rank 0 writes once."
    out = tmp_path / 'gan'
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'GANNOTATE_DEVICE': 'cpu'}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '-m', 'gannotate.train',
           'gan', '--data', 'toyscenes', '--n-train', '16', '--preset', 'smoke', '--steps', '3', '--batch-size', '8',
           '--out', str(out), '--quiet']
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    info = json.loads((out / 'train.json').read_text())
    assert (info['world_size'], info['steps'], info['dist']['backend']) == (2, 3, 'gloo')
    assert r.stdout.count('3 steps on 2 process(es)') == 1                     # only rank 0 reports
    from gannotate.gan import load_generator
    G = load_generator(out / 'generator.pt')
    assert G(G.sample_latents(2)).shape == (2, 3, 32, 32)

# ---- MAE and MOVE: every random number of a step is drawn for the global batch from one generator that all ranks
# share, so two processes follow one to rounding (MOVE's BatchNorm layers use the global batch's statistics)

MM_WORKER = textwrap.dedent('''
    import contextlib, json, os, sys, torch
    torch.set_num_threads(1)
    from gannotate.dist import init_distributed, is_main, world_size
    from gannotate.mae import train_mae, build_mae
    import gannotate.move as gm
    init_distributed()
    out, steps, seed, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    g = torch.Generator().manual_seed(0)
    ds = [{'image': torch.rand(3, 32 + 2 * (i % 5), 40 - 2 * (i % 3), generator=g)} for i in range(24)]   # uneven: random crops
    wsum = lambda m: float(sum(p.detach().double().sum() for p in m.parameters()))
    torch.manual_seed(0); fixed = build_mae('smoke')                   # MOVE against one fixed MAE (the same in every run)
    cfg = {k: gm.MOVE_PRESETS['smoke'][k] for k in gm.MOVE_TRAIN_KEYS} | dict(steps=steps, batch_size=8, bin_ramp=4)

    def run(seed, d, stop=None, mae=True):
        os.makedirs(d, exist_ok=True)
        res = {}
        if mae:
            m = train_mae(ds, 'smoke', seed=seed, steps=steps, batch_size=8, ckpt_path=d + '/mae.pt', ckpt_every=2, stop_at=stop,
                          progress=False)
            res['mae'] = dict(world=world_size(), step=len(m.history), d=m.history, w=wsum(m))
        seg = gm.train_move(ds, fixed, cfg, seed=seed, ckpt_path=d + '/move.pt', ckpt_every=2, stop_at=stop, progress=False,
                            log_every=0)
        res['move'] = dict(world=world_size(), step=len(seg.history), d=[h[0] for h in seg.history],
                           adv=[h[1] for h in seg.history], w=wsum(seg.head))
        return res

    res = {'main': run(seed, out, steps // 2 if mode == 'part' else None)}
    if mode == 'fresh+seed1': res['other_seed'] = run(1, out + '/seed1')
    if mode == 'fresh+per_rank_bn':                                    # known-bad: BatchNorm statistics of each rank's share
        gm.global_batchnorm = lambda *modules: contextlib.nullcontext()
        res['per_rank_bn'] = run(seed, out + '/per_rank_bn', mae=False)
    if is_main(): json.dump(res, open(out + '/result.json', 'w'))
''')

@pytest.fixture(scope='module')
def mm_runs(tmp_path_factory):
    "One process (and another seed), two processes (and the known-bad per-rank BatchNorm), a two-process run paused and resumed."
    tmp = tmp_path_factory.mktemp('ddp_mm')
    run = lambda name, nproc, mode: _run(tmp, name, nproc, 8, worker=MM_WORKER, mode=mode)
    one, two = run('one', 1, 'fresh+seed1'), run('two', 2, 'fresh+per_rank_bn')
    return dict(one=one['main'], other_seed=one['other_seed'], two=two['main'], per_rank_bn=two['per_rank_bn'],
                part=run('resumed', 2, 'part')['main'], resumed=run('resumed', 2, 'resume')['main'])

def _check_curves(r, name, keys=('d',), w_tol=1e-3):
    one, two, other = r['one'], r['two'], r['other_seed']
    n = len(one['d'])
    assert (one['world'], two['world']) == (1, 2) and len(two['d']) == n == one['step']
    for k in keys:
        first = abs(two[k][0] - one[k][0])
        gap = sum(abs(a - b) for a, b in zip(two[k], one[k])) / n
        seed_gap = sum(abs(a - b) for a, b in zip(other[k], one[k])) / n
        print(f"{name} {k}: first step |Δ| {first:.1e}; mean |Δ| two processes vs one {gap:.1e}, another seed vs one {seed_gap:.1e}")
        assert first < 1e-5 and gap < 1e-4 and gap < seed_gap / 100
    print(f"{name}: sum of the weights, two processes {two['w']:.6f}, one {one['w']:.6f}, another seed {other['w']:.6f}")
    assert abs(two['w'] - one['w']) < w_tol * max(1., abs(one['w']))    # the weights end up the same (Adam: near-zero gradients' signs)

def _check_resume(r):
    part, resumed, two = r['part'], r['resumed'], r['two']
    n = len(two['d'])
    assert part['step'] == n // 2 and resumed['step'] == n
    assert resumed['d'][:n // 2] == part['d']                              # the history is carried over
    assert max(abs(a - b) for a, b in zip(resumed['d'], two['d'])) < 1e-6   # and goes on as without the break
    assert abs(resumed['w'] - two['w']) < 1e-6 * max(1., abs(two['w']))

def _mae(r): return {k: v['mae'] for k, v in r.items() if 'mae' in v}
def test_mae_two_processes_follow_one(mm_runs): _check_curves(_mae(mm_runs), 'MAE loss', w_tol=1e-5)
def test_mae_resumed_two_process_run_continues(mm_runs): _check_resume(_mae(mm_runs))
def test_move_two_processes_follow_one(mm_runs): _check_curves({k: v['move'] for k, v in mm_runs.items()}, 'MOVE', ('d', 'adv'))
def test_move_resumed_two_process_run_continues(mm_runs): _check_resume({k: v['move'] for k, v in mm_runs.items()})

def test_move_without_global_batchnorm_two_processes_differ(mm_runs):
    "The known-bad variant: each rank normalising with its own share's statistics departs at the first step."
    one, bad = mm_runs['one']['move'], mm_runs['per_rank_bn']['move']
    first = max(abs(bad[k][0] - one[k][0]) for k in ('d', 'adv'))
    print(f"MOVE with per-rank BatchNorm statistics: first step |Δ| {first:.1e} (global statistics: < 1e-5)")
    assert first > 1e-4

def _torchrun_train(args):
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'GANNOTATE_DEVICE': 'cpu'}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '-m', 'gannotate.train', *args,
           '--quiet']
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return r

def test_gannotate_train_mae_and_move_under_torchrun(tmp_path):
    "`torchrun -m gannotate.train mae …`, then `move --mae …` on its weights: two processes, rank 0 writes once."
    mae_dir, move_dir = tmp_path / 'mae', tmp_path / 'move'
    r = _torchrun_train(['mae', '--data', 'toyscenes', '--n-train', '16', '--preset', 'smoke', '--steps', '3', '--batch-size', '8',
                         '--out', str(mae_dir)])
    info = json.loads((mae_dir / 'train.json').read_text())
    assert (info['world_size'], info['steps'], info['dist']['backend']) == (2, 3, 'gloo')
    assert r.stdout.count('3 steps on 2 process(es)') == 1
    r = _torchrun_train(['move', '--data', 'toyscenes', '--n-train', '16', '--preset', 'smoke', '--steps', '2', '--batch-size', '4',
                         '--mae', str(mae_dir / 'mae.pt'), '--out', str(move_dir)])
    info = json.loads((move_dir / 'train.json').read_text())
    assert (info['world_size'], info['steps'], info['dist']['backend']) == (2, 2, 'gloo')
    assert r.stdout.count('2 steps on 2 process(es)') == 1
    from gannotate.methods import load_segmenter
    seg = load_segmenter(move_dir / 'segmenter.pt')
    assert seg.predict(__import__('torch').rand(2, 3, 32, 32)).shape == (2, 1, 32, 32)
