"""A local stand-in for the Hugging Face Hub: the endpoints huggingface_hub calls to find and download a model.

What huggingface_hub 2.4 asks for (read in hf_api.py, file_download.py and utils/_http.py):
  GET  /api/models/{repo}[/revision/{rev}][?blobs=true] model_info (resolve_revision asks without a revision):
                                                        "sha", "siblings" (with sizes, blob ids and LFS sha256 when
                                                        ``blobs`` is asked)
  HEAD /{repo}/resolve/{rev}/{file}                     file metadata: X-Repo-Commit, ETag, Content-Length; LFS files
                                                        also X-Linked-Etag (their sha256) and X-Linked-Size
  GET  /{repo}/resolve/{rev}/{file}                     the bytes; ``Range: bytes=N-`` is answered 206 + Content-Range
Errors carry X-Error-Code as the Hub's do: RepoNotFound (404; 401 when ``strangers_get_401``, as the Hub answers
anonymous callers), GatedRepo (401 before login, 403 without accepted terms), EntryNotFound, RevisionNotFound.

Knobs for tests: ``cut`` drops the connection once after some bytes of a file; ``chunk_delay`` makes a slow link.
Safety: it listens on 127.0.0.1 only, answers only loopback peers, gives every connection a timeout and refuses
requests beyond ``MAX_REQUESTS``, so a test that goes wrong fails instead of hanging or talking to anyone else.

Run by hand to point the app at it: ``python tests/hub_server.py --port 8765 --slow 0.02``, then
``HF_ENDPOINT=http://127.0.0.1:8765 prompt-recycler compare --source tiny-org/tiny-llama --download ...``.
"""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

MAX_REQUESTS = 2000
CHUNK = 16 * 1024
LFS_SUFFIXES = (".safetensors", ".bin", ".gguf", ".onnx", ".h5", ".msgpack")


@dataclass
class HostedModel:
    """One repository: its files at one commit, and whether it is gated (the status its downloads get)."""

    files: dict[str, bytes]
    gated: int | None = None

    @property
    def sha(self) -> str:
        digest = hashlib.sha1()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + self.files[name])
        return digest.hexdigest()


@dataclass
class Request:
    method: str
    path: str
    range: str | None


@dataclass
class LocalHub:
    """The server and what it hosts; ``requests`` records every request it answered."""

    models: dict[str, HostedModel] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    cut: dict[str, int] = field(default_factory=dict)
    chunk_delay: float = 0.0
    strangers_get_401: bool = False
    port: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), name="local-hub", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LocalHub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(
        self, repo_id: str, folder: Path, *, gated: int | None = None, extra: dict[str, bytes] | None = None,
    ) -> None:
        """Host every file of ``folder`` (recursively) as ``repo_id``, plus ``extra`` files."""
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        self.models[repo_id] = HostedModel({**files, **(extra or {})}, gated)

    def downloaded(self, repo_id: str) -> list[str]:
        """The files of ``repo_id`` whose bytes were asked for (GET), in order, each once."""
        prefix = f"/{repo_id}/resolve/"
        names = [r.path.split(prefix, 1)[1].split("/", 1)[1] for r in self.requests
                 if r.method == "GET" and r.path.startswith(prefix)]
        return list(dict.fromkeys(names))


def _handler(hub: LocalHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10  # seconds a connection may stay silent

        def log_message(self, format: str, *args: object) -> None:
            return None

        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def _answer(self, body: bool) -> None:
            if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                self.close_connection = True
                return self._error(403, "Forbidden", "loopback callers only")
            with hub.lock:
                if len(hub.requests) >= MAX_REQUESTS:
                    return self._error(503, "TooManyRequests", "request limit of the test hub reached")
                hub.requests.append(Request(self.command, unquote(urlsplit(self.path).path), self.headers.get("Range")))
            url = urlsplit(self.path)
            path = unquote(url.path)
            if path.startswith("/api/models/"):
                repo_id, _, revision = path.removeprefix("/api/models/").partition("/revision/")
                return self._model_info(repo_id, revision or "main", "blobs" in parse_qs(url.query))
            if "/resolve/" in path:
                repo_id, rest = path.lstrip("/").split("/resolve/", 1)
                revision, _, name = rest.partition("/")
                return self._file(repo_id, revision, name, body)
            return self._error(404, "EntryNotFound", "no such endpoint")

        def _model(self, repo_id: str, revision: str) -> HostedModel | None:
            model = hub.models.get(repo_id)
            if model is None:
                status = 401 if hub.strangers_get_401 else 404
                self._error(status, "RepoNotFound", "Repository not found")
                return None
            if revision not in ("main", model.sha):
                self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", model.sha)
                return None
            return model

        def _model_info(self, repo_id: str, revision: str, blobs: bool) -> None:
            model = self._model(repo_id, revision)
            if model is None:
                return
            siblings = []
            for name, data in sorted(model.files.items()):
                sibling: dict[str, object] = {"rfilename": name}
                if blobs:
                    sibling.update(size=len(data), blobId=_git_blob_id(data))
                    if name.endswith(LFS_SUFFIXES):
                        sibling["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data),
                                          "pointerSize": 134}
                siblings.append(sibling)
            info = {
                "_id": model.sha[:24], "id": repo_id, "modelId": repo_id, "sha": model.sha, "private": False,
                "gated": "manual" if model.gated else False, "disabled": False, "library_name": "transformers",
                "tags": ["transformers", "safetensors"], "siblings": siblings,
            }
            self._send(200, json.dumps(info).encode(), {"Content-Type": "application/json"}, body=True)

        def _file(self, repo_id: str, revision: str, name: str, body: bool) -> None:
            model = self._model(repo_id, revision)
            if model is None:
                return
            if model.gated:
                return self._error(model.gated, "GatedRepo", f"Access to model {repo_id} is restricted. You must "
                                   "have access to it and be authenticated to access it. Please log in.", model.sha)
            data = model.files.get(name)
            if data is None:
                return self._error(404, "EntryNotFound", f"{name} does not exist on \"{revision}\"", model.sha)
            headers = {"X-Repo-Commit": model.sha, "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
            if name.endswith(LFS_SUFFIXES):
                sha256 = hashlib.sha256(data).hexdigest()
                headers.update({"ETag": f'"{sha256}"', "X-Linked-Etag": f'"{sha256}"', "X-Linked-Size": str(len(data))})
            else:
                headers["ETag"] = f'"{_git_blob_id(data)}"'
            start = _range_start(self.headers.get("Range"))
            if start and body:
                headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                return self._send(206, data[start:], headers, body=True)
            cut = hub.cut.pop(name, None) if body else None
            self._send(200, data, headers, body=body, cut=cut)

        def _error(self, status: int, code: str, message: str, commit: str | None = None) -> None:
            headers = {"X-Error-Code": code, "X-Error-Message": message, "Content-Type": "application/json"}
            if commit:
                headers["X-Repo-Commit"] = commit
            self._send(status, json.dumps({"error": message}).encode(), headers, body=self.command != "HEAD")

        def _send(
            self, status: int, data: bytes, headers: dict[str, str], *, body: bool, cut: int | None = None,
        ) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if not body:
                return
            limit = len(data) if cut is None else min(cut, len(data))
            sent = 0
            while sent < limit:
                self.wfile.write(data[sent : min(limit, sent + CHUNK)])
                sent = min(limit, sent + CHUNK)
                if hub.chunk_delay:
                    self.wfile.flush()
                    time.sleep(hub.chunk_delay)
            if limit < len(data):  # drop the connection mid-file, as a flaky network does
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

    return Handler


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _range_start(header: str | None) -> int:
    if not header or not header.startswith("bytes="):
        return 0
    return int(header.removeprefix("bytes=").split("-", 1)[0] or 0)


def main() -> None:
    """Serve tiny models built on the spot until Ctrl-C: tiny-org/tiny-llama, tiny-org/tiny-t5, tiny-org/tiny-gemma."""
    import tempfile

    import tiny_models

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--slow", type=float, default=0.0, help="seconds to wait between 16 KiB chunks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        hub = LocalHub(chunk_delay=args.slow, port=args.port)
        for name, build in (("tiny-llama", tiny_models.build_llama), ("tiny-t5", tiny_models.build_t5),
                            ("tiny-gemma", tiny_models.build_gemma3)):
            folder = Path(scratch) / name
            folder.mkdir()
            hub.add(f"tiny-org/{name}", build(folder))
        with hub:
            print(f"serving {', '.join(hub.models)} at {hub.url} (Ctrl-C stops)", flush=True)
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass


if __name__ == "__main__":
    main()
