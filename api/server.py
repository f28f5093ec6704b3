"""Run the service with uvicorn: ``serve(...)`` (what ``rag serve`` calls) or ``python -m api.server``.

>>> serve("127.0.0.1", 8000, Path("var/index"), Path("../shared/corpus"))  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from rag.indexing import DEFAULT_INDEX_DIR

log = logging.getLogger("api.server")

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def configure_logging(level: int = logging.INFO) -> None:
    """JSON lines (``log_format = "text"`` for plain ones); the access log is JSON either way."""
    from api.logs import configure
    from rag.settings import load_settings

    configure(level, load_settings().log_format)


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    index_dir: str | Path = DEFAULT_INDEX_DIR,
    corpus_dir: str | Path | None = None,
    reader: str = "auto",
    allow_local_writes: bool = False,
    workers: int = 1,
) -> None:
    """Load the index and serve it until interrupted. The API key comes from RAG_API_KEY.

    ``workers`` > 1 runs that many processes (each loads the pipeline; Python answers one
    question per core at a time); they share the index on disk and pick up each other's
    writes (:meth:`rag.live_index.LiveIndex.refresh`).
    """
    import os

    import uvicorn

    from api.app import create_app

    configure_logging()
    if allow_local_writes and host not in _LOOPBACK:
        log.warning(
            "local writes are allowed and the service listens on %s: anyone who reaches it "
            "can change the corpus; set RAG_API_KEY instead",
            host,
        )
    if workers > 1:
        _nodelay_for_workers()
        # a worker's batches (documents uploaded): share the cores instead of oversubscribing
        # (questions always run on one thread of their own: index/st_embedder.py)
        cores = os.cpu_count() or 1
        os.environ.setdefault("RAG_EMBED_THREADS", str(max(1, cores // workers)))
        # metrics of all workers, added up at each scrape (api/metrics.py): a folder of
        # their value files, new for this run, set before any worker imports the client
        import shutil
        import tempfile

        metrics_dir = tempfile.mkdtemp(prefix="rag-metrics-")
        os.environ.update(  # the workers read their settings from the environment
            PROMETHEUS_MULTIPROC_DIR=metrics_dir,
            RAG_INDEX_DIR=str(index_dir),
            RAG_READER=reader,
            RAG_ALLOW_LOCAL_WRITES="1" if allow_local_writes else "0",
        )
        if corpus_dir:
            os.environ["RAG_CORPUS_DIR"] = str(corpus_dir)
        try:
            uvicorn.run(
                "api.server:app_from_env",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                access_log=False,
                log_config=None,
            )
        finally:
            shutil.rmtree(metrics_dir, ignore_errors=True)
        return
    app = create_app(
        index_dir, corpus_dir=corpus_dir, reader=reader, allow_local_writes=allow_local_writes
    )
    uvicorn.run(app, host=host, port=port, access_log=False, log_config=None)


def _nodelay_for_workers() -> None:
    """Give uvicorn's pre-bound socket the TCP protocol number, so replies are not delayed.

    With ``workers`` > 1 uvicorn binds the listening socket itself with protocol 0; asyncio
    turns Nagle's algorithm off (TCP_NODELAY) only for sockets marked IPPROTO_TCP, so a
    keep-alive reply written in two parts would wait for the client's delayed ACK.
    """
    import socket

    import uvicorn.config

    bind = uvicorn.config.Config.bind_socket
    if getattr(bind, "_rag_nodelay", False):
        return

    def bind_tcp(self):  # noqa: ANN001, ANN202 - uvicorn's signature
        sock = bind(self)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
        return sock

    bind_tcp._rag_nodelay = True  # type: ignore[attr-defined]
    uvicorn.config.Config.bind_socket = bind_tcp


def app_from_env():
    """The app of one worker process, configured by ``serve`` through the environment
    (:class:`rag.settings.Settings`)."""
    from api.app import create_app
    from rag.settings import load_settings

    configure_logging()
    s = load_settings()
    return create_app(
        s.index_dir,
        corpus_dir=s.corpus_dir,
        reader=s.reader,
        allow_local_writes=s.allow_local_writes,
    )


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m api.server", description=serve.__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--index-dir", default=str(DEFAULT_INDEX_DIR))
    p.add_argument("--corpus-dir", help="the corpus folder uploads go to (writes need it)")
    p.add_argument("--reader", default="auto", help="auto (default), offline, or a QA model")
    p.add_argument(
        "--allow-local-writes",
        action="store_true",
        help="allow uploads and deletes without RAG_API_KEY (trusts every client)",
    )
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    args = p.parse_args(argv)
    serve(
        args.host,
        args.port,
        args.index_dir,
        args.corpus_dir,
        args.reader,
        args.allow_local_writes,
        args.workers,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
