"""Configuration (rag.settings): flags over RAG_* variables over the TOML file over the
defaults; every setting in the README's table; a bad value is a clear error."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from rag.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _clean(monkeypatch, tmp_path):
    for name in list(__import__("os").environ):
        if name.startswith("RAG_") and name[4:].lower() in Settings.model_fields:
            monkeypatch.delenv(name)
    monkeypatch.delenv("RAG_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./rag.toml unless a test writes one


def test_defaults():
    s = load_settings()
    assert (s.host, s.port, s.workers, s.reader) == ("127.0.0.1", 8000, 1, "auto")
    assert s.index_dir == Path("var/index") and s.key() is None and s.log_format == "json"


def test_flag_over_environment_over_file_over_default(monkeypatch, tmp_path):
    (tmp_path / "rag.toml").write_text('port = 8100\nhost = "0.0.0.0"\nworkers = 3\n')
    assert load_settings().port == 8100 and load_settings().workers == 3
    monkeypatch.setenv("RAG_PORT", "8200")
    assert load_settings().port == 8200 and load_settings().host == "0.0.0.0"
    assert load_settings(port=8300).port == 8300
    assert load_settings(port=None).port == 8200  # a flag not given does not count


def test_a_named_config_file(monkeypatch, tmp_path):
    conf = tmp_path / "elsewhere.toml"
    conf.write_text('api_key = "s3cret"\nlog_questions = true\nreader = "offline"\n')
    monkeypatch.setenv("RAG_CONFIG", str(conf))
    s = load_settings()
    assert s.key() == "s3cret" and s.log_questions and s.reader == "offline"
    assert "s3cret" not in repr(s)  # the key is a secret: never printed
    monkeypatch.setenv("RAG_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ValueError, match="not a file"):
        load_settings()


def test_a_bad_value_names_the_setting(monkeypatch):
    monkeypatch.setenv("RAG_PORT", "eighty")
    with pytest.raises(ValidationError, match="port"):
        load_settings()
    monkeypatch.setenv("RAG_PORT", "8000")
    monkeypatch.setenv("RAG_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError, match="log_format"):
        load_settings()


def test_the_service_takes_its_key_and_limits_from_the_settings(monkeypatch):
    from fastapi.testclient import TestClient

    from api.app import create_app

    monkeypatch.setenv("RAG_API_KEY", "from-env")
    monkeypatch.setenv("RAG_MAX_BODY_BYTES", "2048")
    app = create_app("no-index", reader="offline")
    assert app.state.api_key == "from-env" and app.state.write_mode == "api-key"
    r = TestClient(app).post("/v1/ask", content=b"x" * 4096)
    assert r.status_code == 413


def test_rag_serve_reads_the_port_from_the_environment(monkeypatch, tmp_path):
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        env = {**__import__("os").environ, "RAG_PORT": str(port)}
        r = subprocess.run([sys.executable, "-m", "rag.cli", "serve"], env=env,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 4 and f":{port}" in r.stderr  # the taken port was the configured one


def test_the_readme_table_lists_every_setting():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("**Configuration**") :]
    table = table[: table.index("\n\n**")]
    for name in Settings.model_fields:
        assert re.search(rf"`RAG_{name.upper()}`", table), name
    assert "`RAG_CONFIG`" in table
