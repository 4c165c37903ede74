"""Measure the README's two set-up commands in a fresh clone, and (with ``--write``) rewrite the
README's timing table from the measurement, so that the table says what the last run measured.

    python bench/readme_timings.py            # measure and print the table
    python bench/readme_timings.py --write    # ... and replace the table between the README's markers

It clones the repository (its committed state) into a temporary folder, runs the first command
(venv, install, the quickstart board) and then the second (dev extras, the test suite) exactly as
the README gives them, timed with ``time.perf_counter``; it records the virtual environment's size,
the share taken by the NVIDIA libraries that a CUDA build of torch brings (what PyTorch's CPU-only
build leaves out), and the test counts pytest reports.  Nothing is downloaded beyond what the
commands themselves install.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- timings: written by bench/readme_timings.py -->", "<!-- /timings -->"


def readme_commands(readme: str) -> tuple[str, str]:
    """The first two ``bash`` blocks of the README: the main job and the tests."""
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    if len(blocks) < 2:
        raise SystemExit("README.md: expected two ```bash blocks at the top (the main job, the tests)")
    return blocks[0].strip(), blocks[1].strip()


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) if path.exists() else 0


def run(command: str, cwd: Path, log: Path) -> tuple[float, int, str]:
    started = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(["bash", "-c", command], cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return time.perf_counter() - started, done.returncode, log.read_text(errors="replace")


def test_counts(output: str) -> str:
    found = re.findall(r"^=*\s*((?:\d+ \w+, )*\d+ passed(?:, \d+ \w+)*) in [\d.]+s", output, flags=re.M)
    return found[-1] if found else "no pytest summary found"


def measure(repo: Path, keep: Path | None) -> dict:
    work = Path(keep or tempfile.mkdtemp(prefix="owlbench-timings-"))
    clone = work / "clone"
    subprocess.run(["git", "clone", "--quiet", str(repo), str(clone)], check=True)
    first, second = readme_commands((clone / "README.md").read_text())
    t1, rc1, _ = run(first, clone, work / "first.log")
    site = next((clone / ".venv" / "lib").glob("python3*/site-packages"), clone / ".venv")
    venv, nvidia, torch_dir = folder_bytes(clone / ".venv"), folder_bytes(site / "nvidia"), folder_bytes(site / "torch")
    t2, rc2, out2 = run(second, clone, work / "second.log")
    return {
        "date": datetime.date.today().isoformat(), "cpus": os.cpu_count(), "first_s": t1, "first_rc": rc1, "second_s": t2, "second_rc": rc2,
        "venv_gb": venv / 1e9, "nvidia_gb": nvidia / 1e9, "torch_gb": torch_dir / 1e9, "tests": test_counts(out2), "logs": str(work),
    }


def table(m: dict) -> str:
    rows = [
        ("first command in a fresh clone and a fresh virtual environment (venv, install, the 48 jobs of the quickstart board)", f"{m['first_s']:.0f} s" + ("" if m["first_rc"] == 0 else f" (exit {m['first_rc']})")),
        ("its virtual environment", f"{m['venv_gb']:.1f} GB, of which torch {m['torch_gb']:.1f} GB and NVIDIA libraries {m['nvidia_gb']:.1f} GB"),
        ("second command right after it (dev extras, then the test suite)", f"{m['second_s']:.0f} s" + ("" if m["second_rc"] == 0 else f" (exit {m['second_rc']})")),
        ("its test counts", m["tests"]),
    ]
    lines = [BEGIN, f"Measured by `python bench/readme_timings.py --write` on {m['date']}, {m['cpus']} CPUs (package downloads excluded where pip had them cached):", "",
             "| what | measured |", "| --- | --- |", *(f"| {a} | {b} |" for a, b in rows), END]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=ROOT, help="repository to clone (default: this one)")
    parser.add_argument("--write", action="store_true", help="replace the table between the README's timing markers")
    parser.add_argument("--keep", type=Path, help="work in this folder (kept) instead of a temporary one")
    args = parser.parse_args()
    measured = measure(args.repo, args.keep)
    text = table(measured)
    print(text)
    print(f"logs: {measured['logs']}", file=sys.stderr)
    if args.write:
        readme = ROOT / "README.md"
        old = readme.read_text()
        if BEGIN not in old or END not in old:
            raise SystemExit(f"README.md: no {BEGIN} ... {END} markers")
        start, end = old.index(BEGIN), old.index(END) + len(END)
        tmp = readme.with_suffix(".md.tmp")
        tmp.write_text(old[:start] + text + old[end:])
        tmp.replace(readme)
    return 0 if measured["first_rc"] == 0 and measured["second_rc"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
