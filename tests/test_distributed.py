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

def _run(tmp, name, nproc, steps, seed=0, resume=False):
    out = tmp / name; out.mkdir(exist_ok=True)
    script = tmp / 'worker.py'; script.write_text(WORKER)
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'GANNOTATE_DEVICE': 'cpu'}
    args = [str(out), str(steps), str(seed), 'resume' if resume else 'fresh']
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
