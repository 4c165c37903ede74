"""What the avalanche extra adds to a job: import time and resident memory, against torch's import as the peer.

Each repeat is a fresh Python process that imports torch, then owlbench with its built-in entries
(what every job loads), then avalanche-lib as an avalanche strategy does
(``harness.components.avalanche_data.import_avalanche``), reading the wall time and the resident set
size (VmRSS) after each stage.  A second kind of process runs one digits ``cil`` job of
``avalanche-naive`` and one of ``nmc`` in memory, to set the import beside a job's own time.
Prints medians over ``--repeats`` runs and the ratios avalanche / torch.

    python bench/avalanche_cost.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STAGES = r"""
import json, time
def rss_mb():
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) for l in f if l.startswith('VmRSS')) / 1024
out = {'python': rss_mb()}
t = time.perf_counter(); import torch; out['torch_s'] = time.perf_counter() - t; out['torch_mb'] = rss_mb()
t = time.perf_counter()
from harness.api.registry import load_builtins; load_builtins()
out['owlbench_s'] = time.perf_counter() - t; out['owlbench_mb'] = rss_mb()
t = time.perf_counter()
from harness.components.avalanche_data import import_avalanche; import_avalanche()
out['avalanche_s'] = time.perf_counter() - t; out['avalanche_mb'] = rss_mb()
print(json.dumps(out))
"""

JOB = r"""
import json, sys, time
from harness.config import parse_config
from harness.sweep import expand
from harness.runner import execute
board = {'name': 'cost', 'dataset': 'digits', 'scenarios': [{'kind': 'cil', 'base_classes': 4, 'increment': 2}],
         'strategies': [{'name': sys.argv[1]}], 'seeds': [0], 'device': 'cpu'}
job = expand(parse_config(board))[0]
t = time.perf_counter(); execute(job, progress=False); print(json.dumps({'job_s': time.perf_counter() - t}))
"""


def _run(code: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    stages = [_run(STAGES) for _ in range(args.repeats)]
    med = {k: statistics.median(s[k] for s in stages) for k in stages[0]}
    torch_mb = med["torch_mb"] - med["python"]
    owl_mb = med["owlbench_mb"] - med["torch_mb"]
    av_mb = med["avalanche_mb"] - med["owlbench_mb"]
    print(f"medians over {args.repeats} fresh processes:")
    print(f"  import torch:              {med['torch_s']:6.2f} s  {torch_mb:7.1f} MB")
    print(f"  owlbench + built-ins:      {med['owlbench_s']:6.2f} s  {owl_mb:7.1f} MB")
    print(f"  avalanche-lib:             {med['avalanche_s']:6.2f} s  {av_mb:7.1f} MB")
    print(f"  ratio avalanche / torch:   time {med['avalanche_s'] / med['torch_s']:.2f}  memory {av_mb / torch_mb:.2f}")
    jobs = {name: statistics.median(_run(JOB, name)["job_s"] for _ in range(args.repeats)) for name in ("nmc", "avalanche-naive")}
    print(f"  one digits cil job in memory (median): nmc {jobs['nmc']:.2f} s, avalanche-naive {jobs['avalanche-naive']:.2f} s "
          f"(its first one in a process includes the import)")


if __name__ == "__main__":
    main()
