"""The service's configuration, in one place (pydantic-settings).

Each setting is read, first found first: a ``rag serve`` flag, the environment variable
``RAG_<NAME>`` (``RAG_API_KEY``, ``RAG_PORT``, …), a TOML file, the default here. The file
is ``$RAG_CONFIG`` when set (it must exist), else ``rag.toml`` in the working folder when
there is one; its keys are the names below (``port = 8080``). A value of the wrong kind is
an error that names the setting and where it came from.

>>> Settings(port=8080).port
8080
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CONFIG = Path("rag.toml")


def config_file() -> Path | None:
    """The TOML file settings are read from, if any (``$RAG_CONFIG`` must exist)."""
    named = os.environ.get("RAG_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ValueError(f"RAG_CONFIG names {path}, which is not a file")
        return path
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


class Settings(BaseSettings):
    """What the service reads at start (the README's configuration table lists each)."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", frozen=True)

    index_dir: Path = Field(Path("var/index"), description="the index served and asked")
    corpus_dir: Path | None = Field(
        None, description="where uploads go (default: the folder the index was built from)"
    )
    reader: str = Field("auto", description="auto, neural, offline, or a QA model")
    host: str = Field("127.0.0.1", description="address `rag serve` listens on")
    port: int = Field(8000, ge=1, le=65535, description="port `rag serve` listens on")
    workers: int = Field(1, ge=1, le=64, description="worker processes")
    api_key: SecretStr | None = Field(
        None, description="the key uploads and deletes need (X-API-Key); unset: writes off"
    )
    allow_local_writes: bool = Field(
        False, description="writes without a key (trusts every client: local use only)"
    )
    log_format: Literal["json", "text"] = Field("json", description="the service log's lines")
    log_questions: bool = Field(False, description="put the question in the access line")
    milvus_uri: str | None = Field(
        None, description="search the index's vectors and BM25 in Milvus (file or server)"
    )
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="largest request body")
    max_upload_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, description="largest upload (all files of one request)"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def key(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key else None


def load_settings(**given: object) -> Settings:
    """Settings with ``given`` (flags that were passed; None means not given) on top."""
    return Settings(**{k: v for k, v in given.items() if v is not None})
