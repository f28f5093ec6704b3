from __future__ import annotations

import json
import subprocess
import sys

from rag.cli import main


def test_articles_json_contract(corpus_dir, capsys):
    assert main(["articles", str(corpus_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) >= 90
    for a in out:
        assert {"id", "title", "source", "start", "end"} <= a.keys()
        original = (corpus_dir / a["source"]).read_text(encoding="utf-8")
        assert 0 <= a["start"] < a["end"] <= len(original)
    assert any(a.get("publication") == "天津支部生活" and a.get("issue") for a in out)


def test_articles_table_is_readable(corpus_dir, capsys):
    assert main(["articles", str(corpus_dir)]) == 0
    out = capsys.readouterr().out
    assert "古街续文脉 党建兴百业" in out and "谢小燕" in out and "天津支部生活" in out


def test_missing_and_empty_folders_fail_clearly(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "rag.cli", "articles", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "not found" in r.stderr and r.stdout == ""
    r = subprocess.run(
        [sys.executable, "-m", "rag.cli", "articles", str(tmp_path)], capture_output=True, text=True
    )
    assert r.returncode == 2 and "empty" in r.stderr


def test_help_works_without_heavy_imports():
    code = "import sys; from rag.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip().endswith("False")


def test_version_comes_from_the_one_place_it_is_declared(capsys):
    import importlib.metadata

    import pytest

    import rag

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"rag-zh {rag.__version__}"
    from api.app import create_app

    assert create_app("unused", reader="offline").version == rag.__version__
    pyproject = (__import__("pathlib").Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert 'version = { attr = "rag.__version__" }' in pyproject
    assert importlib.metadata.version("rag-zh") == rag.__version__  # the installed metadata


def test_help_names_every_options_default():
    import argparse

    from rag.cli import build_parser

    def parsers(p, name="rag"):
        yield name, p
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for n, child in a.choices.items():
                    yield from parsers(child, f"{name} {n}")

    seen = 0
    for name, p in parsers(build_parser()):
        text = " ".join(p.format_help().split())
        for a in p._actions:
            if not a.option_strings or isinstance(
                a, (argparse._HelpAction, argparse._VersionAction)
            ):
                continue
            seen += 1
            help_text = " ".join(p._get_formatter()._get_help_string(a).split())
            assert "default" in help_text, f"{name} {a.option_strings[-1]}: {a.help!r}"
            assert a.option_strings[-1] in text
    assert seen > 30


def test_a_port_in_use_exits_4_before_loading_anything(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "rag.cli", "serve", "--port", str(port),
             "--index-dir", str(tmp_path / "no-index")],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert r.returncode == 4, r.stderr
    assert "cannot listen" in r.stderr and "index" not in r.stderr.lower()


def test_a_namesake_package_first_on_the_path_is_named_not_imported(tmp_path, monkeypatch):
    """Another distribution's (or a local) ``index`` ahead of ours: a clear error that says
    which file and what to do, not an AttributeError deep in a command."""
    import importlib

    import pytest

    import rag

    rag.check_import_roots()  # ours, as installed for the tests
    (tmp_path / "index.py").write_text("x = 1\n")  # a script named like our package
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "index")  # as in a process that has not imported it yet
    importlib.invalidate_caches()
    with pytest.raises(ImportError, match=r"'index'.*not rag-zh's.*virtual environment"):
        rag.check_import_roots()
    monkeypatch.setattr("sys.argv", ["rag", "articles", "x"])
    assert main(["articles", str(tmp_path)]) == 2
