"""The weights download against mirrors that misbehave (local servers): a trickle, a body that claims
a terabyte or never ends, and a cache entry that is not a regular file. Each ends within its bound
with one line, and leaves nothing in the cache."""

import http.server
import os
import threading
import time

import pytest

from resnet_studio.models.registry import get_variant
from resnet_studio.models.weights import DownloadError, WeightsError, fetch_imagenet
from runners import export_cli

ENTRY = get_variant("resnet18").imagenet["v1"]


class Mirror(http.server.ThreadingHTTPServer):
    """A mirror on loopback answering every GET as ``behaviour`` says; it stops by itself."""

    daemon_threads = True

    def __init__(self, behaviour: str) -> None:
        self.behaviour, self.stopping = behaviour, threading.Event()
        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def close(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        server = self.server
        deadline = time.monotonic() + 60  # every request loop is bounded, whatever the client does
        self.send_response(200)
        if server.behaviour == "huge":
            self.send_header("Content-Length", str(10**12))
        elif server.behaviour == "trickle":
            self.send_header("Content-Length", str(ENTRY_BYTES))
        self.end_headers()
        try:
            while not server.stopping.is_set() and time.monotonic() < deadline:
                if server.behaviour == "trickle":
                    self.wfile.write(b"\0")
                    self.wfile.flush()
                    time.sleep(0.3)
                else:  # "huge" and "endless": zeros as fast as the client reads
                    self.wfile.write(bytes(1 << 20))
        except (BrokenPipeError, ConnectionResetError):
            pass


ENTRY_BYTES = get_variant("resnet18").checkpoint_bytes()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def leftovers(cache) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_a_trickling_mirror_ends_within_the_stall_bound(tmp_path, cache):
    mirror = Mirror("trickle")
    try:
        started = time.monotonic()
        result = export_cli("resnet18", "--weights", "imagenet-v1", "--output", tmp_path / "r.onnx", timeout=120,
                            env={**os.environ, "RESNET_STUDIO_WEIGHTS_MIRROR": mirror.url,
                                 "RESNET_STUDIO_DOWNLOAD_STALL_S": "2"})
        took = time.monotonic() - started
    finally:
        mirror.close()
    assert result.returncode == 1 and "the connection is stalled" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert took < 45  # 2 s of trickle, plus starting Python and torch
    assert leftovers(cache) == [] and not (tmp_path / "r.onnx").exists()


def test_a_body_claiming_a_terabyte_is_refused_before_it_is_read(tmp_path, cache):
    mirror = Mirror("huge")
    try:
        result = export_cli("resnet18", "--weights", "imagenet-v1", "--output", tmp_path / "r.onnx", timeout=120,
                            env={**os.environ, "RESNET_STUDIO_WEIGHTS_MIRROR": mirror.url})
    finally:
        mirror.close()
    assert result.returncode == 1 and "announces 1,000,000,000,000 bytes" in result.stderr, result.stderr
    assert leftovers(cache) == []


def test_a_body_that_never_ends_stops_at_the_checkpoints_size(cache):
    mirror = Mirror("endless")
    try:
        with pytest.raises(DownloadError, match="bytes this checkpoint can weigh arrived"):
            fetch_imagenet(ENTRY, url=mirror.url + ENTRY.file, expected_bytes=ENTRY_BYTES)
    finally:
        mirror.close()
    assert leftovers(cache) == []


def test_a_cache_entry_that_is_a_fifo_is_refused_at_once(cache):
    cache.mkdir(parents=True)
    os.mkfifo(cache / ENTRY.file)
    started = time.monotonic()
    with pytest.raises(WeightsError, match="is a FIFO, not a regular file; delete it"):
        fetch_imagenet(ENTRY, url="http://127.0.0.1:9/never-asked", expected_bytes=ENTRY_BYTES)
    assert time.monotonic() - started < 5
