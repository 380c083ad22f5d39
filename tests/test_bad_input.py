"""Bad input for `gannotate.data` and `gannotate-segment`: one test per row of issue #15's table (each failed
before the fix), then what already held and must keep holding. The CLI runs in-process (`segment_cli(argv)`
returns the exit status) except where the installed console script itself is the point."""
import math, os, pickle, re, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image

import cv2
from gannotate.core import load_image, load_checkpoint, save_checkpoint, CheckpointError
from gannotate.data import FolderBenchmark, ImageFolder, BenchmarkError
from gannotate.methods import CentrePriorSegmenter, Segmenter, fit_method, method_config
from gannotate.metrics import evaluate
from gannotate.cli import segment_cli, EXIT_CODES

torch.set_num_threads(1)


def cli(capsys, *args):
    "Run gannotate-segment in-process: (exit status, stdout, stderr)."
    try: code = segment_cli([str(a) for a in args])
    except SystemExit as e: code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def rgb(path, h=24, w=32, val=None, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8) if val is None else np.full((h, w, 3), val, np.uint8)
    Image.fromarray(a).save(path)
    return path


def disc_mask(h, w, r=None):
    yy, xx = np.ogrid[:h, :w]
    return ((yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (r or min(h, w) / 4) ** 2)


@pytest.fixture
def ckpt(tmp_path):
    return CentrePriorSegmenter().save(tmp_path / 'cp.pt')


class Truth(Segmenter):
    "Predicts a fixed centred disc (the ground truth of the masks the tests write)."
    def forward(self, images):
        B, _, H, W = images.shape
        return torch.from_numpy(disc_mask(H, W).astype(np.float32)).expand(B, 1, H, W)


# --- the table of issue #15 -------------------------------------------------------------------------------

def test_truncated_jpeg_is_found_on_open_and_skipped_with_skip_bad(tmp_path):
    (tmp_path / 'masks').mkdir()
    for s in ('a', 'b', 'cut'):
        rgb(tmp_path / 'images' / f'{s}.jpg', h=240, w=320, seed=len(s))
        Image.fromarray(disc_mask(240, 320).astype(np.uint8) * 255).save(tmp_path / 'masks' / f'{s}.png')
    f = tmp_path / 'images' / 'cut.jpg'
    f.write_bytes(f.read_bytes()[:len(f.read_bytes()) * 6 // 10])          # an interrupted copy
    with Image.open(f) as im: assert im.size == (320, 240)                  # its header is intact
    with pytest.raises(BenchmarkError) as e: FolderBenchmark(tmp_path)
    assert re.search(r'cut.jpg: image unreadable \(OSError: .*[Tt]runcated', str(e.value)), str(e.value)
    bench = FolderBenchmark(tmp_path, skip_bad=True)
    assert bench.names == ['a', 'b'] and [p.name for p, _ in bench.report] == ['cut.jpg']
    assert evaluate(Truth(), bench, progress=False).summary['iou'] > 0.99     # the run no longer crashes mid-way


def test_grabcut_runs_large_images_at_the_preset_size(tmp_path, capsys, monkeypatch):
    cfg = method_config('grabcut', 'cpu')
    assert cfg['max_size'] == 512 and all(method_config('grabcut', p)['max_size'] == 512 for p in ('smoke', 'paper'))
    H, W = 4000, 6000
    img = np.zeros((H, W, 3), np.uint8); img[...] = (30, 140, 40); img[disc_mask(H, W, r=900)] = (220, 30, 30)
    (tmp_path / 'in').mkdir(); Image.fromarray(img).save(tmp_path / 'in' / 'x.jpg', quality=90)
    fit_method('grabcut', tmp_path / 'in', preset='cpu').save(tmp_path / 'gc.pt')
    seen, real = [], cv2.grabCut
    monkeypatch.setattr(cv2, 'grabCut', lambda a, *r: (seen.append(a.shape[:2]), real(a, *r))[1])
    t0 = time.perf_counter()
    code, out, err = cli(capsys, '--checkpoint', tmp_path / 'gc.pt', '--input', tmp_path / 'in', '--output', tmp_path / 'out', '--quiet')
    secs = time.perf_counter() - t0
    print(f"6000×4000 GrabCut via the CLI: {secs:.1f} s, GrabCut saw {seen}")
    assert code == 0, err
    assert seen == [(341, 512)] and secs < 60
    m = np.asarray(Image.open(tmp_path / 'out' / 'x.png'))
    assert m.shape == (H, W)
    gt = disc_mask(H, W, r=900)
    iou = ((m > 127) & gt).sum() / ((m > 127) | gt).sum()
    assert iou > 0.9, iou


def test_two_inputs_with_one_stem_never_overwrite(tmp_path, capsys, ckpt):
    rgb(tmp_path / 'in' / 'x.jpg', h=8, w=8); rgb(tmp_path / 'in' / 'x.png', h=12, w=16)
    code, out, err = cli(capsys, '--checkpoint', ckpt, '--input', tmp_path / 'in', '--output', tmp_path / 'out', '--quiet')
    assert code == 3, (code, err)
    assert "x.png: duplicate image stem 'x' (also x.jpg)" in err and 'wrote 1 masks' in out, (out, err)
    assert [p.name for p in (tmp_path / 'out').iterdir()] == ['x.png']
    assert np.asarray(Image.open(tmp_path / 'out' / 'x.png')).shape == (8, 8)   # the mask of x.jpg, written once


@pytest.mark.parametrize('t', ['1.5', 'nan', '-1', '0', '1', 'inf', 'half'])
def test_threshold_outside_0_1_is_a_usage_error(tmp_path, capsys, ckpt, t):
    rgb(tmp_path / 'in' / 'a.jpg')
    code, out, err = cli(capsys, '--checkpoint', ckpt, '--input', tmp_path / 'in', '--output', tmp_path / 'out', '--threshold', t)
    assert code == 2 and f"argument --threshold: threshold must be a number strictly between 0 and 1, got '{t}'" in err, err
    assert not (tmp_path / 'out').exists()


def test_threshold_inside_0_1_writes_binary_masks(tmp_path, capsys, ckpt):
    rgb(tmp_path / 'in' / 'a.jpg')
    code, _, err = cli(capsys, '--checkpoint', ckpt, '--input', tmp_path / 'in', '--output', tmp_path / 'out', '--threshold', '0.5')
    assert code == 0, err
    assert set(np.unique(np.asarray(Image.open(tmp_path / 'out' / 'a.png')))) == {0, 255}


@pytest.mark.parametrize('device,says', [('gpu', "--device: device 'gpu' is not a device name"),
                                         ('cuda', "--device: device 'cuda' was asked for but CUDA is not available"),
                                         ('cuda:7', "--device: device 'cuda:7' was asked for but")])
def test_unusable_device_is_a_usage_error(tmp_path, capsys, ckpt, device, says):
    if device.startswith('cuda') and torch.cuda.is_available() and device == 'cuda': pytest.skip('this machine has CUDA')
    rgb(tmp_path / 'in' / 'a.jpg')
    code, out, err = cli(capsys, '--checkpoint', ckpt, '--input', tmp_path / 'in', '--output', tmp_path / 'out', '--device', device)
    assert code == 2 and says in err and 'Traceback' not in err, err
    assert not (tmp_path / 'out').exists()


def test_output_path_is_a_file_or_under_a_file(tmp_path, capsys, ckpt):
    rgb(tmp_path / 'in' / 'a.jpg'); (tmp_path / 'f').write_text('x')
    code, _, err = cli(capsys, '--checkpoint', ckpt, '--input', tmp_path / 'in', '--output', tmp_path / 'f')
    assert code == 2 and f"{tmp_path / 'f'}: output folder is a file" in err and 'Traceback' not in err, err
    code, _, err = cli(capsys, '--checkpoint', ckpt, '--input', tmp_path / 'in', '--output', tmp_path / 'f' / 'sub')
    assert code == 2 and f"cannot create the output folder: {tmp_path / 'f'} is a file" in err, err
    assert (tmp_path / 'f').read_text() == 'x'


def test_output_folder_not_writable(tmp_path, capsys, ckpt, monkeypatch):
    rgb(tmp_path / 'in' / 'a.jpg'); ro = tmp_path / 'ro'; ro.mkdir()
    if os.geteuid() != 0: ro.chmod(0o500)          # a real read-only folder
    else:                                          # root writes anywhere: make the OS say what it says to others
        def refuse(*a, dir=None, **k):
            if dir is not None and Path(dir).resolve() == ro.resolve(): raise PermissionError(13, 'Permission denied')
            return real(*a, dir=dir, **k)
        real = tempfile.mkstemp; monkeypatch.setattr(tempfile, 'mkstemp', refuse)
    try:
        code, out, err = cli(capsys, '--checkpoint', ckpt, '--input', tmp_path / 'in', '--output', ro)
    finally: ro.chmod(0o700)
    assert code == 2 and f"{ro}: output folder is not writable (Permission denied)" in err, err
    assert list(ro.iterdir()) == []


def test_output_folder_holding_the_inputs_is_refused(tmp_path, capsys, ckpt):
    rgb(tmp_path / 'in' / 'a.png'); before = (tmp_path / 'in' / 'a.png').read_bytes()
    code, _, err = cli(capsys, '--checkpoint', ckpt, '--input', tmp_path / 'in', '--output', tmp_path / 'in')
    assert code == 2 and 'would overwrite input images (a.png)' in err, err
    assert (tmp_path / 'in' / 'a.png').read_bytes() == before


def test_hidden_files_are_ignored_and_reported_by_cli_and_loader(tmp_path, capsys, ckpt):
    rgb(tmp_path / 'in' / 'x.jpg'); (tmp_path / 'in' / '._x.jpg').write_bytes(b'\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X')
    (tmp_path / 'in' / '.hidden.png').write_bytes(b'')
    folder = ImageFolder(tmp_path / 'in')
    assert folder.names == ['x'] and [p.name for p, _ in folder.ignored] == ['._x.jpg', '.hidden.png']
    code, out, err = cli(capsys, '--checkpoint', ckpt, '--input', tmp_path / 'in', '--output', tmp_path / 'out', '--quiet')
    assert code == 0, err                                           # ignored, not skipped: the run is complete
    assert 'ignored' in err and '._x.jpg: hidden file' in err and 'skipped' not in err, err
    assert [p.name for p in (tmp_path / 'out').iterdir()] == ['x.png']


def _voc_bench(root, n=3):
    for i in range(n):
        rgb(root / 'images' / f'{i}.jpg', seed=i)
        lab = disc_mask(24, 32).astype(np.uint8)                    # object = 1
        ring = disc_mask(24, 32, r=8) & ~disc_mask(24, 32)           # a void band around it = 255
        lab[ring] = 255; (root / 'masks').mkdir(exist_ok=True)
        Image.fromarray(lab).save(root / 'masks' / f'{i}.png')
    return root


def test_void_label_is_an_error_unless_named(tmp_path):
    root = _voc_bench(tmp_path)
    with pytest.raises(BenchmarkError) as e: FolderBenchmark(root)
    assert '0.png: mask has 3 values [0.0, 1.0, 255.0]: a label map, not a binary mask; pass void=' in str(e.value), str(e.value)
    bench = FolderBenchmark(root, void=255)
    iou = evaluate(Truth(), bench, progress=False).summary['iou']
    lab = np.asarray(Image.open(root / 'masks' / '0.png')); half_max, obj = lab > lab.max() / 2, lab == 1
    old = (half_max & obj).sum() / (half_max | obj).sum()          # what binarising at half the maximum read
    print(f"VOC-style masks, the true object predicted: IoU {iou:.3f} with void=255; half-max binarisation: IoU {old:.3f}")
    assert iou > 0.99 and old < 0.1


def test_checkpoint_with_format_but_no_kind(tmp_path, capsys):
    rgb(tmp_path / 'in' / 'a.jpg')
    save_checkpoint({'format': 'gannotate.segmenter/1', 'config': {}, 'state_dict': {}}, tmp_path / 'nokind.pt')
    code, _, err = cli(capsys, '--checkpoint', tmp_path / 'nokind.pt', '--input', tmp_path / 'in', '--output', tmp_path / 'out')
    assert code == 2 and "nokind.pt: incomplete segmenter checkpoint: it has format 'gannotate.segmenter/1' but no 'kind'" in err, err
    assert 'Traceback' not in err


class _Payload:
    def __init__(self, marker): self.marker = marker
    def __reduce__(self): return (os.makedirs, (self.marker,))


@pytest.mark.parametrize('writer', ['torch.save', 'pickle.dumps'])
def test_malicious_pickle_is_refused_with_a_whole_message(tmp_path, capsys, writer):
    rgb(tmp_path / 'in' / 'a.jpg'); marker = tmp_path / 'code_ran'
    evil = {'format': 'gannotate.segmenter/1', 'kind': 'UNetSegmenter', 'state_dict': _Payload(str(marker))}
    if writer == 'torch.save': torch.save(evil, tmp_path / 'evil.pt')
    else: (tmp_path / 'evil.pt').write_bytes(pickle.dumps(evil))
    code, _, err = cli(capsys, '--checkpoint', tmp_path / 'evil.pt', '--input', tmp_path / 'in', '--output', tmp_path / 'out')
    print(err)
    assert code == 2 and not marker.exists(), err
    assert 'evil.pt: ' in err and err.rstrip().endswith('Do it only if you got the file from a trusted source.'), err
    if writer == 'torch.save': assert 'refused to load: unpickling it would import' in err and 'makedirs' in err, err


def test_exit_codes_are_distinct_and_listed_in_help(capsys, tmp_path, ckpt, monkeypatch):
    assert sorted(EXIT_CODES) == [0, 1, 2, 3]
    with pytest.raises(SystemExit) as e: segment_cli(['--help'])
    assert e.value.code == 0
    help_text = capsys.readouterr().out
    for k, v in EXIT_CODES.items(): assert f'  {k}  {v}' in help_text
    rgb(tmp_path / 'in' / 'a.jpg')                                 # an internal error: exit 1, named as such
    monkeypatch.setattr(CentrePriorSegmenter, 'forward', lambda self, x: 1 / 0)
    code, _, err = cli(capsys, '--checkpoint', ckpt, '--input', tmp_path / 'in', '--output', tmp_path / 'out')
    assert code == 1 and 'ZeroDivisionError' in err and 'internal error (exit 1)' in err, err


# --- asked for elsewhere in the issue ---------------------------------------------------------------------

def test_cli_reads_a_benchmark_root_through_its_images(tmp_path, capsys, ckpt):
    _voc_bench(tmp_path / 'bench', n=2)
    code, out, err = cli(capsys, '--checkpoint', ckpt, '--input', tmp_path / 'bench', '--output', tmp_path / 'out', '--quiet')
    assert code == 0 and 'wrote 2 masks' in out, (out, err)
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['0.png', '1.png']


def test_fit_method_takes_a_folder_path_and_refuses_other_things(tmp_path):
    for i in range(2): rgb(tmp_path / 'photos' / f'{i}.jpg', seed=i)
    assert fit_method('grabcut', str(tmp_path / 'photos')).method == 'grabcut'
    with pytest.raises(BenchmarkError, match='nowhere: image folder does not exist'): fit_method('grabcut', tmp_path / 'nowhere')
    with pytest.raises(TypeError, match='train_ds must be a dataset'): fit_method('centre_prior', 42)


# --- what already held and must keep holding --------------------------------------------------------------

def test_zero_byte_and_text_files_are_named(tmp_path, capsys, ckpt):
    rgb(tmp_path / 'in' / 'ok.jpg'); (tmp_path / 'in' / 'empty.jpg').write_bytes(b''); (tmp_path / 'in' / 'text.png').write_text('hello')
    with pytest.raises(BenchmarkError) as e: ImageFolder(tmp_path / 'in')
    assert 'empty.jpg: image unreadable' in str(e.value) and 'text.png: image unreadable' in str(e.value)
    code, out, err = cli(capsys, '--checkpoint', ckpt, '--input', tmp_path / 'in', '--output', tmp_path / 'out', '--quiet')
    assert code == 3 and 'skipped' in err and 'empty.jpg' in err and 'text.png' in err and 'wrote 1 masks' in out, err


def test_image_modes_load_correctly(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (5, 7, 3)).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / 'rgb.png')
    ref = torch.from_numpy(a).permute(2, 0, 1) / 255.
    Image.fromarray(np.dstack([a, np.full((5, 7), 9, np.uint8)])).save(tmp_path / 'rgba.png')
    Image.fromarray(a[..., 0]).save(tmp_path / 'grey.png')
    Image.fromarray((a[..., 0].astype(np.uint16) * 257)).save(tmp_path / 'g16.png')
    Image.fromarray(a).convert('CMYK').save(tmp_path / 'cmyk.jpg', quality=100)
    Image.fromarray(a[:1, :1]).save(tmp_path / 'one.png')
    assert torch.allclose(load_image(tmp_path / 'rgba.png'), ref)
    g = load_image(tmp_path / 'grey.png'); assert g.shape == (3, 5, 7) and torch.allclose(g[0], ref[0]) and torch.equal(g[0], g[2])
    assert torch.allclose(load_image(tmp_path / 'g16.png')[0], ref[0], atol=1e-6)
    assert load_image(tmp_path / 'cmyk.jpg').shape == (3, 5, 7) and (load_image(tmp_path / 'cmyk.jpg') - ref).abs().mean() < 0.05
    assert load_image(tmp_path / 'one.png').shape == (3, 1, 1)


def test_size_mismatch_and_missing_mask_are_named(tmp_path):
    rgb(tmp_path / 'images' / 'a.jpg'); rgb(tmp_path / 'images' / 'b.jpg'); (tmp_path / 'masks').mkdir()
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / 'masks' / 'a.png')
    with pytest.raises(BenchmarkError) as e: FolderBenchmark(tmp_path)
    assert 'a.jpg: size mismatch: image is 32×24 but mask a.png is 10×10' in str(e.value)
    assert 'b.jpg: no mask for this image' in str(e.value)


def test_empty_or_missing_input_folder_exits_2(tmp_path, capsys, ckpt):
    (tmp_path / 'empty').mkdir()
    for d, says in [(tmp_path / 'empty', 'no images'), (tmp_path / 'nowhere', 'image folder does not exist')]:
        code, _, err = cli(capsys, '--checkpoint', ckpt, '--input', d, '--output', tmp_path / 'out')
        assert code == 2 and says in err, err
    assert not (tmp_path / 'out').exists()


def test_garbage_checkpoint_exits_2_and_no_temporary_files_are_left(tmp_path, capsys, ckpt):
    rgb(tmp_path / 'in' / 'a.jpg'); rgb(tmp_path / 'in' / 'b.png')
    (tmp_path / 'g.pt').write_bytes(b'garbage' * 9)
    code, _, err = cli(capsys, '--checkpoint', tmp_path / 'g.pt', '--input', tmp_path / 'in', '--output', tmp_path / 'out')
    assert code == 2 and 'g.pt: cannot load checkpoint' in err, err
    code, _, err = cli(capsys, '--checkpoint', ckpt, '--input', tmp_path / 'in', '--output', tmp_path / 'out', '--quiet')
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == ['a.png', 'b.png']   # no .tmp, no probe


def test_the_installed_console_script_returns_the_exit_status(tmp_path, ckpt):
    rgb(tmp_path / 'in' / 'a.jpg'); (tmp_path / 'in' / 'bad.jpg').write_bytes(b'no')
    exe = Path(sys.executable).parent / 'gannotate-segment'
    r = subprocess.run([str(exe), '--checkpoint', str(ckpt), '--input', str(tmp_path / 'in'), '--output', str(tmp_path / 'o'), '--quiet'],
                       capture_output=True, text=True, env={**os.environ, 'GANNOTATE_DEVICE': 'cpu'})
    assert r.returncode == 3 and 'bad.jpg' in r.stderr, r.stderr
