import pytest
"""Load: ten thousand images through predict, streamed in bounded memory."""

import re
import subprocess
import sys
import time

from runners import make_images


@pytest.mark.slow  # 10,000 images: 20 s
def test_predict_on_ten_thousand_images_streams(tmp_path):
    folder = tmp_path / "tenk"
    make_images(folder, 10_000)

    def run(target) -> tuple[float, str]:
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c",
                              "import resource, sys; from resnet_studio.gui.cli.main import main; code = main(sys.argv[1:]);"
                              " print('maxrss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr);"
                              " sys.exit(code)", "predict", str(target), "--device", "cpu", "--top-k", "1"],
                             capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-2000:]
        peak = int(re.search(r"maxrss_kb (\d+)", out.stderr).group(1)) / 1024
        return peak, out.stderr, time.perf_counter() - started

    small = tmp_path / "onek"
    small.mkdir()
    for path in sorted(folder.iterdir())[:1000]:
        (small / path.name).symlink_to(path)
    peak_1k, _, _ = run(small)
    peak_10k, stderr, seconds = run(folder)
    summary = re.search(r"10000 image\(s\) in [\d.]+ s \(([\d.]+) img/s\), 0 failed", stderr)
    assert summary, stderr[-500:]
    print(f"\npredict: peak RSS {peak_1k:.0f} MB for 1,000 images, {peak_10k:.0f} MB for 10,000; "
          f"{summary.group(1)} img/s ({seconds:.1f} s with start-up)")
    assert peak_10k - peak_1k < 30

