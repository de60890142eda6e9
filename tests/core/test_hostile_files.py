"""Image files that are odd, broken or hostile, and files that change while they are read."""

import os
import shutil
import subprocess
import sys

from resnet_studio.core.engine import Engine
from resnet_studio.core.model_file import read_model
from resnet_studio.core.session import SessionPool
from resnet_studio.gui.cli.main import expand
from runners import DEFAULT


def test_there_are_enough_cases(cases):
    _, found = cases
    assert len(found) >= 25


def test_an_unreadable_file(tmp_path):
    from PIL import Image

    path = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(path)
    path.chmod(0o000)
    command = [sys.executable, "-c", "import sys; from resnet_studio.core.intake import load_image, ImageRejected\n"
               "try: load_image(sys.argv[1])\nexcept ImageRejected as e: print(e)\n", str(path)]
    if os.geteuid() == 0:
        # Root reads any file; without these two capabilities the permission bits apply to it too.
        caps = "-dac_override,-dac_read_search"
        command = [shutil.which("setpriv") or "setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert "permission denied" in result.stdout.lower(), result.stdout + result.stderr


def test_a_file_deleted_between_listing_and_reading(tmp_path):
    from PIL import Image

    for name in ("a.png", "gone.png", "z.png"):
        Image.new("L", (28, 28), 90).save(tmp_path / name)

    def listing():
        for path in expand([str(tmp_path)]):
            if path.endswith("gone.png"):
                os.unlink(path)
            yield path

    results = list(Engine(SessionPool("cpu")).classify_files(read_model(DEFAULT), listing()))
    assert [r.ok for r in results] == [True, False, True]
    assert "cannot read" in results[1].error or "disappeared" in results[1].error

