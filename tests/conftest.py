import os, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault('GANNOTATE_DEVICE', 'cpu')
os.environ.setdefault('OMP_NUM_THREADS', '1')
