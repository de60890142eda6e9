"""What the command line writes and waits for: device nodes refused as outputs, an empty argument,
numbers out of range, and a Ray address where nothing (or no Ray) answers."""

import os
import socket
import stat
import threading
import time

import pytest

from runners import DEFAULT, SAMPLES, cli, deep_folder, export_cli, one_line_refusal, remove_deep


def device_node(folder, name):
    path = folder / name
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError):
        os.mkfifo(path)
    return path


def still_special(path) -> bool:
    mode = os.lstat(path).st_mode
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def test_an_output_that_is_a_device_is_refused_before_anything_runs(tmp_path):
    jsonl, onnx = device_node(tmp_path, "out.jsonl"), device_node(tmp_path, "out.onnx")
    started = time.monotonic()
    one_line_refusal(cli("predict", SAMPLES, "--model", DEFAULT, "--output", jsonl), "not a regular file")
    exported = export_cli("resnet20", "--output", onnx)
    assert exported.returncode == 1 and "not a regular file" in exported.stderr, exported.stderr
    assert len(exported.stderr.strip().splitlines()) == 1
    assert still_special(jsonl) and still_special(onnx)
    assert time.monotonic() - started < 60
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "out.onnx"]  # no temp file beside them


def test_an_empty_argument_names_no_file_not_the_working_folder(tmp_path):
    (tmp_path / "inside.png").write_bytes(SAMPLES.joinpath("bag-test18.png").read_bytes())
    result = cli("predict", "", "--model", DEFAULT, cwd=tmp_path)
    assert result.returncode == 1
    assert "an empty argument names no file" in result.stdout and "inside.png" not in result.stdout


@pytest.mark.parametrize("args, expect", [(["--batch", "0"], "0 is outside 1..512"),
                                          (["--batch", "10000000"], "10000000 is outside 1..512"),
                                          (["--seconds", "0"], "0.0 is outside [0.1, 3600]"),
                                          (["--threads", "-1"], "-1 is outside 1..1024")])
def test_bench_numbers_are_checked(args, expect):
    started = time.monotonic()
    one_line_refusal(cli("bench", "--model", DEFAULT, *args), expect)
    assert time.monotonic() - started < 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_ray_address_where_nothing_listens_is_one_line_within_its_bound(tmp_path):
    pytest.importorskip("ray")
    image = SAMPLES / "bag-test18.png"
    started = time.monotonic()
    result = cli("predict", image, "--model", DEFAULT, "--ray", f"127.0.0.1:{free_port()}", timeout=90)
    assert time.monotonic() - started < 30
    one_line_refusal(result, "no Ray cluster answers at 127.0.0.1")
    # Something answers, but it is no Ray head: the join deadline ends it, Ray's retries stay off stderr.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted, stop = [], threading.Event()

    def serve():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        result = cli("predict", image, "--model", DEFAULT, "--ray", f"127.0.0.1:{server.getsockname()[1]}",
                     timeout=90, env={**os.environ, "RESNET_STUDIO_RAY_CONNECT_S": "3"})
        assert time.monotonic() - started < 40
    finally:
        stop.set()
        thread.join(5)
        server.close()
    one_line_refusal(result, "did not answer within 3 s")


def test_predict_walks_a_folder_a_thousand_levels_deep(tmp_path):
    top = tmp_path / "deep"
    bottom = deep_folder(top, 1100)  # Python 3.11's os.walk stops near 1,000 levels with a RecursionError
    (top / "top.png").write_bytes((SAMPLES / "bag-test18.png").read_bytes())
    (bottom / "bottom.png").write_bytes((SAMPLES / "coat-test6.png").read_bytes())
    try:
        result = cli("predict", top, "--model", DEFAULT)
    finally:
        remove_deep(top)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-500:]
    assert "2 image(s)" in result.stderr and "Bag" in result.stdout and "Coat" in result.stdout
