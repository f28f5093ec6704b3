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
