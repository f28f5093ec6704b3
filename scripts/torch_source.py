"""Where `scripts/setup.sh` takes PyTorch from: the CPU build, on any machine.

The product runs on CPUs. The same `pip install torch==X` gives a CPU build on one index
(a mirror that holds it, macOS and Windows on PyPI) and the CUDA build with its
``nvidia-*`` packages (gigabytes) on another (Linux on PyPI). So the choice is measured,
not guessed: ``pip install --dry-run --report`` says what the configured index would
install; when that includes CUDA (``nvidia-*`` or ``triton`` packages, or a ``+cuXXX``
build), PyTorch's own CPU index is used instead (``--index-url
https://download.pytorch.org/whl/cpu``, PyPI still serving torch's dependencies).

    python scripts/torch_source.py torch==2.13.0     # prints the pip arguments to add

Exit status 0 always; the decision goes to stdout (empty: as configured), why to stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PYPI = "https://pypi.org/simple"


def cuda_packages(report: dict) -> list[str]:
    """The names in a pip install report that are CUDA builds or CUDA libraries."""
    found = []
    for item in report.get("install", []):
        meta = item.get("metadata", {})
        name = str(meta.get("name", "")).lower()
        version = str(meta.get("version", ""))
        if name.startswith("nvidia-") or name == "triton" or (name == "torch" and "+cu" in version):
            found.append(f"{name}=={version}" if version else name)
    return found


def pip_args(report: dict | None) -> list[str]:
    """The pip arguments that make ``torch`` a CPU build, given the configured index's
    dry-run report (None: the dry run failed, so take the CPU index to be safe)."""
    if report is not None and not cuda_packages(report):
        return []
    return ["--index-url", CPU_INDEX, "--extra-index-url", PYPI]


def dry_run(requirement: str, python: str = sys.executable) -> dict | None:
    """What ``pip install requirement`` would install from the configured index, or None."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [python, "-m", "pip", "install", "--dry-run", "--quiet", "--ignore-installed"]
        cmd += ["--report", str(out), requirement]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode != 0 or not out.is_file():
            print(f"torch_source: dry run failed: {done.stderr.strip()[-300:]}", file=sys.stderr)
            return None
        return json.loads(out.read_text(encoding="utf-8"))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    requirement = argv[0] if argv else "torch"
    report = dry_run(requirement)
    args = pip_args(report)
    if args:
        why = cuda_packages(report) if report else ["(no dry run)"]
        print(f"torch_source: the configured index gives {', '.join(why[:4])}…: "
              f"taking the CPU build from {CPU_INDEX}", file=sys.stderr)  # fmt: skip
    else:
        print("torch_source: the configured index gives a CPU build", file=sys.stderr)
    print(" ".join(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
