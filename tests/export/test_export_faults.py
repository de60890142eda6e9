"""Exports that cannot finish: a full disk, a process killed midway; nothing half-made is left."""

import resource
import signal
import subprocess
import sys
import time


def _export_command(output) -> list[str]:
    return [sys.executable, "-m", "resnet_studio.export.cli", "resnet50", "--output", str(output), "--quiet"]



def test_a_full_disk_during_export_keeps_the_previous_file(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"the previous good file")

    def small_disk():
        # As a full disk: writes past 20 MB fail with EFBIG instead of killing the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20 * 1024**2, 20 * 1024**2))

    result = subprocess.run(_export_command(target), capture_output=True, text=True, timeout=600,
                            preexec_fn=small_disk)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "too large" in result.stderr.lower() or "no space" in result.stderr.lower(), result.stderr
    assert target.read_bytes() == b"the previous good file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]



def test_an_export_killed_midway_leaves_nothing_at_the_output(tmp_path):
    target = tmp_path / "model.onnx"
    process = subprocess.Popen(_export_command(target), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill it once the exporter has started writing its temp file.
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not any(p.name.endswith(".tmp") for p in tmp_path.iterdir()):
        time.sleep(0.05)
    process.kill()
    process.wait()
    assert not target.exists()

