"""Set-up picks the CPU build of PyTorch on any index (scripts/torch_source.py) and the
package ships what it reads at run time (scripts/check_wheel.sh runs the wheel in CI)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("torch_source", ROOT / "scripts" / "torch_source.py")
torch_source = importlib.util.module_from_spec(spec)
spec.loader.exec_module(torch_source)


def _report(*packages: tuple[str, str]) -> dict:
    return {"install": [{"metadata": {"name": n, "version": v}} for n, v in packages]}


def test_an_index_that_would_give_cuda_is_replaced_by_the_cpu_index():
    # what PyPI gives on Linux for torch==2.13.0: the CUDA build's libraries
    pypi = _report(("torch", "2.13.0"), ("nvidia-cublas-cu12", "12.8.4.1"), ("triton", "3.5.0"))
    assert torch_source.cuda_packages(pypi) == [
        "nvidia-cublas-cu12==12.8.4.1",
        "triton==3.5.0",
    ]
    args = torch_source.pip_args(pypi)
    assert args[:2] == ["--index-url", "https://download.pytorch.org/whl/cpu"]
    assert torch_source.pip_args(_report(("torch", "2.13.0+cu128"))) == args
    assert torch_source.pip_args(None) == args  # no dry run: the safe choice


def test_an_index_that_gives_a_cpu_build_is_kept():
    assert torch_source.pip_args(_report(("torch", "2.13.0"), ("numpy", "2.3.0"))) == []
    assert torch_source.pip_args(_report(("torch", "2.13.0+cpu"))) == []


def test_here_the_configured_index_gives_the_cpu_build():
    """The real dry run on this machine's index: CPU, so set-up keeps it."""
    report = torch_source.dry_run("torch==2.13.0")
    assert report is not None
    names = {i["metadata"]["name"].lower() for i in report["install"]}
    assert "torch" in names
    assert torch_source.cuda_packages(report) == []
    assert torch_source.pip_args(report) == []


def test_setup_installs_torch_through_the_decision():
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert "scripts/torch_source.py" in setup
    assert 'pip install -q "${TORCH_ARGS[@]}" "$TORCH"' in setup


def test_ci_runs_the_wheel_check():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/check_wheel.sh" in ci


def test_the_package_data_the_code_reads_is_declared():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = data["tool"]["setuptools"]["package-data"]
    for package, pattern_dir in (
        ("rag", "reader/offline"),
        ("rag", "reader/neural/adapter"),
        ("api", "static"),
        ("eval", ""),
    ):
        assert any(p.startswith(pattern_dir) for p in declared[package]), (package, pattern_dir)
    assert sys.version_info >= (3, 10)
