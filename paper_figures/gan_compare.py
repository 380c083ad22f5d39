# Run from the repository root after the exp_gan runs below: .venv/bin/python paper_figures/gan_compare.py
# One table for the 64-px ToyScenes generators: random-CNN FID / KID (100 subsets of 250) / density / coverage,
# 1000 generated vs 1000 held-out ToyScenes test images (not the training images), plus a figure.
import json, sys, torch
torch.set_num_threads(2)
from gannotate.data import ToyScenes
from gannotate.gan import load_generator, grid_image
from gannotate.gen_metrics import generative_metrics, get_extractor, extract_features
import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
runs = dict(old_ns_uncentred='runs/gan_cpu', ns='runs/gan64_ns', hinge='runs/gan64_hinge', kdd='runs/gan64_kdd', joint='runs/gan64_joint')
real = ToyScenes('test', n=1000, res=64).tensors()['image']
ex, px = get_extractor(None), get_extractor('pixels')     # random CNN (default) and 16x16 pixels
fr, fp = extract_features(ex, real, 1000, 50, 0, None, False), extract_features(px, real, 1000, 50, 0, None, False)
rows, figs = {}, {'real (test)': real[:8]}
for k, d in runs.items():
    try: G = load_generator(f'{d}/generator.pt')
    except FileNotFoundError: continue
    m = json.load(open(f'{d}/metrics.json'))
    g = generative_metrics(G, real_features=fr, extractor=ex, n=1000, kid_subset_size=250, seed=0)
    gp = generative_metrics(G, real_features=fp, extractor=px, n=1000, kid_subset_size=250, seed=0)
    rows[k] = dict(steps=m['steps_done'], minutes=round(m['train_seconds'] / 60, 1), loss=m['config']['loss'],
                   **{x: g[x] for x in ('fid', 'kid', 'kid_std', 'density', 'coverage', 'precision', 'recall')}, extractor=g['extractor'],
                   fid_pixels=gp['fid'], kid_pixels=gp['kid'], coverage_pixels=gp['coverage'], extractor_pixels=gp['extractor'])
    with torch.no_grad(): figs[f"{k} ({m['steps_done']} steps)"] = G(G.sample_latents(8, torch.Generator().manual_seed(0)), noise_mode='const')
    print(k, rows[k], flush=True)
json.dump(rows, open('paper_figures/gan_toyscenes64.json', 'w'), indent=1)
fig, axs = plt.subplots(len(figs), 1, figsize=(12, 1.7 * len(figs)))
for ax, (t, x) in zip(axs, figs.items()):
    ax.imshow(grid_image(x, nrow=8).permute(1, 2, 0).numpy()); ax.set_title(t, loc='left', fontsize=9); ax.axis('off')
fig.tight_layout(); fig.savefig('paper_figures/gan_toyscenes64.png', dpi=90)
