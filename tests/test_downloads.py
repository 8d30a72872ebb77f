"""Downloads for real, from a local HTTP server on 127.0.0.1 serving generated IDX files."""
import gzip
import hashlib
import http.server
import struct
import threading
import time

import numpy as np
import pytest

from fastnn import datasets as D

pytest.importorskip("pooch", reason="downloads need the pooch extra (pip install 'fastnn[study]')")


def idx_bytes(array):
    raw = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(raw + array.astype(np.uint8).tobytes())


@pytest.fixture(scope="module")
def files():
    rng = np.random.default_rng(0)
    return {
        "train-images-idx3-ubyte.gz": idx_bytes(rng.integers(0, 256, (60000, 2, 2))),
        "train-labels-idx1-ubyte.gz": idx_bytes(rng.integers(0, 10, 60000)),
        "t10k-images-idx3-ubyte.gz": idx_bytes(rng.integers(0, 256, (100, 2, 2))),
        "t10k-labels-idx1-ubyte.gz": idx_bytes(rng.integers(0, 10, 100)),
    }


@pytest.fixture(scope="module")
def server(files):
    """Serves /<behaviour>/<file>: good, missing (404), html, truncated, wrong (other bytes), hang."""
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            behaviour, _, name = self.path.strip("/").partition("/")
            requests.append(self.path)
            body = files.get(name)
            if behaviour == "missing" or body is None:
                self.send_error(404)
                return
            if behaviour == "hang":
                time.sleep(3)
            if behaviour == "html":
                body = b"<html><body>Service unavailable</body></html>"
            if behaviour == "wrong":
                body = body[:-1] + bytes([body[-1] ^ 1])
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body[:len(body) // 2] if behaviour == "truncated" else body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()


@pytest.fixture
def registry(monkeypatch, tmp_path, files, server):
    """Point the mnist registry at the local server; return a function that sets its mirrors."""
    base, _ = server
    monkeypatch.setenv("FASTNN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FASTNN_DATA", raising=False)
    spec = {"mirrors": [], "files": {f: "md5:" + hashlib.md5(b).hexdigest() for f, b in files.items()}}
    monkeypatch.setitem(D.REGISTRY, "mnist", spec)

    def use(*behaviours):
        spec["mirrors"] = [f"{base}/{b}/" for b in behaviours]
    return use


def cache_files(tmp_path):
    root = tmp_path / "cache"
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_download_verifies_caches_and_second_call_makes_no_request(registry, server, tmp_path):
    _, requests = server
    registry("good")
    before = len(requests)
    (Xt, yt), (Xv, yv), (Xs, ys) = D.load_mnist(progress=False)
    assert (Xt.shape, Xv.shape, Xs.shape) == ((50000, 4), (10000, 4), (100, 4))
    assert len(requests) - before == 4
    assert cache_files(tmp_path) == sorted(D.IDX_FILES["train"] + D.IDX_FILES["test"])
    (X2, _), _, _ = D.load_mnist(progress=False)
    assert len(requests) - before == 4 and np.array_equal(X2, Xt)
    (Xo, _), (Xso, _) = D.load_mnist(split="official", progress=False)
    assert Xo.shape == (60000, 4)


def test_a_failing_mirror_is_skipped_for_the_next(registry, server, tmp_path):
    _, requests = server
    registry("missing", "good")
    before = len(requests)
    D.load_mnist(split="official", progress=False)
    tried = requests[before:]
    assert sum(p.startswith("/missing/") for p in tried) == 4 and sum(p.startswith("/good/") for p in tried) == 4


@pytest.mark.parametrize("behaviour,reason", [("wrong", "hash"), ("html", "hash"), ("truncated", ""),
                                              ("missing", "404")])
def test_bad_downloads_are_errors_and_leave_the_cache_clean(registry, tmp_path, behaviour, reason):
    registry(behaviour)
    with pytest.raises(D.DataUnavailable, match="could not download") as e:
        D.load_mnist(progress=False)
    assert reason.lower() in str(e.value).lower()
    assert "Looked in" in str(e.value) and "FASTNN_DATA" in str(e.value)
    assert cache_files(tmp_path) == []


def test_a_hanging_server_times_out(registry, tmp_path):
    registry("hang")
    t0 = time.perf_counter()
    with pytest.raises(D.DataUnavailable, match="Timeout|timed out"):
        D.load_mnist(progress=False, timeout=(1, 0.5))
    assert time.perf_counter() - t0 < 30
    assert cache_files(tmp_path) == []


def test_offline_with_nothing_cached_says_what_is_missing_and_where(registry, tmp_path):
    registry("good")
    with pytest.raises(D.DataUnavailable) as e:
        D.load_mnist(download=False)
    msg = str(e.value)
    assert "missing train-images-idx3-ubyte.gz" in msg
    assert str(tmp_path / "cache" / "mnist") in msg and "download=False" in msg


def test_files_are_found_in_path_then_fastnn_data_before_downloading(registry, server, files, tmp_path, monkeypatch):
    _, requests = server
    registry("missing")  # any download would fail
    for folder in (tmp_path / "given", tmp_path / "env" / "mnist"):
        folder.mkdir(parents=True)
        for name, body in files.items():
            (folder / name).write_bytes(body)
    assert D.load_mnist(path=tmp_path / "given", split="official", progress=False)[0][0].shape == (60000, 4)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "env"))
    before = len(requests)
    assert D.load_mnist(split="official", progress=False)[1][0].shape == (100, 4)
    assert len(requests) == before


def test_book_data_format_matches_load_data_wrapper(registry):
    registry("good")
    training, validation, test = D.load_mnist(as_book_data=True, progress=False)
    assert (len(training), len(validation), len(test)) == (50000, 10000, 100)
    x, y = training[0]
    assert x.shape == (4, 1) and y.shape == (10, 1) and y.sum() == 1
    x, label = validation[0]
    assert x.shape == (4, 1) and isinstance(label, int)
