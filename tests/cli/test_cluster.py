"""``resnet-studio predict --ray``: the same results as local ``predict``, computed on Ray Data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from resnet_studio.core import report

STUDIO = str(Path(sys.executable).with_name("resnet-studio"))
MODEL = "resnet20-fashion-mnist"


def mixed_images(root: Path, count: int) -> list[str]:
    """``count`` files: pictures of several sizes and formats, and four that cannot be read."""
    rng = np.random.default_rng(0)
    for folder in ("a", "b"):
        (root / folder).mkdir(parents=True)
    for i in range(count - 4):
        side = (int(rng.integers(20, 90)), int(rng.integers(20, 90)))
        picture = Image.fromarray(rng.integers(0, 255, (*side, 3), dtype=np.uint8))
        picture.save(root / ("a" if i % 2 else "b") / f"{i:03d}.{('png', 'jpg', 'webp')[i % 3]}")
    (root / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (root / "a" / "empty.jpg").write_bytes(b"")
    (root / "b" / "text.png").write_text("not an image")
    whole = (root / "a" / "003.png").read_bytes()
    (root / "b" / "truncated.png").write_bytes(whole[: len(whole) // 2])
    return ["broken.png", "empty.jpg", "text.png", "truncated.png"]


def predict(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([STUDIO, "predict", *args], capture_output=True, text=True, timeout=timeout)


def without_timings(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        del row["decode_ms"], row["inference_ms"]
    return rows


@pytest.mark.slow  # Ray start-up: 20-30 s
def test_ray_gives_the_results_of_local_predict(tmp_path):
    pytest.importorskip("ray.data")
    broken = mixed_images(tmp_path / "images", 300)
    local, on_ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    done = predict(str(tmp_path / "images"), "--model", MODEL, "--output", str(local))
    assert done.returncode == 1, done.stderr  # 1: some files failed
    assert "300 image(s)" in done.stderr and "4 failed" in done.stderr
    done = predict(str(tmp_path / "images"), "--model", MODEL, "--output", str(on_ray), "--ray")
    assert done.returncode == 1, done.stderr
    assert "300 image(s)" in done.stderr and "4 failed" in done.stderr
    # Ray may log notes of its own before it; ours is the last line, and no traceback.
    assert "Traceback" not in done.stderr and done.stderr.strip().splitlines()[-1].startswith("300 image(s)")
    expected, got = without_timings(local), without_timings(on_ray)
    assert len(got) == 300 and got == expected  # same order, same numbers, same reasons
    failed = {Path(row["source"]).name: row["error"] for row in got if row["error"]}
    assert sorted(failed) == sorted(broken) and all(failed.values())
    assert all(len(row["predictions"]) == 5 for row in got if not row["error"])


def test_streamed_csv_reads_back_as_the_json_lines(tmp_path):
    mixed_images(tmp_path / "images", 24)
    lines, table = tmp_path / "out.jsonl", tmp_path / "out.csv"
    for target in (lines, table):
        assert predict(str(tmp_path / "images"), "--model", MODEL, "--top-k", "3", "--output", str(target)).returncode == 1
    records = report.read(table)
    rows = without_timings(lines)
    assert [r["path"] for r in records] == [r["source"] for r in rows]
    for record, row in zip(records, rows):
        assert record["error"] == row["error"] and record["ood_score"] == row["ood_score"]
        assert [(p["label"], p["probability"]) for p in record["top_k"]] == \
               [(p["label"], p["probability"]) for p in row["predictions"]]
    assert not list(tmp_path.glob(".out.*"))  # no temp file left beside them


def test_ray_missing_or_a_bad_output_name_is_one_line(tmp_path):
    Image.new("RGB", (32, 32)).save(tmp_path / "one.png")
    script = ("import sys; sys.modules['ray'] = None\n"  # as if Ray were not installed
              "from resnet_studio.gui.cli.main import main\n"
              f"sys.exit(main(['predict', {str(tmp_path / 'one.png')!r}, '--model', {MODEL!r}, '--ray', "
              f"'--output', {str(tmp_path / 'out.jsonl')!r}]))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == ("resnet-studio predict: --ray needs Ray Data: pip install 'resnet-studio[cluster]' "
                                   "(or: pip install 'ray[data]')")
    assert not (tmp_path / "out.jsonl").exists()
    done = predict(str(tmp_path / "one.png"), "--model", MODEL, "--output", str(tmp_path / "out.txt"))
    assert done.returncode == 2 and done.stderr.strip() == "resnet-studio predict: --output: choose a .jsonl or .csv file name"
