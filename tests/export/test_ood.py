"""The out-of-distribution flag: its threshold on Fashion-MNIST, its parameters in the file, predict's JSON, a calibration folder."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from resnet_studio.core.catalog import DEFAULT_MODEL, shipped_models_dir
from resnet_studio.core.model_file import read_model
from resnet_studio.core.ood import OutOfDistribution, auroc, fit

# The default model and its int8 twin by default; every other shipped file under the slow marker.
SHIPPED = [path if path.stem.startswith(f"{DEFAULT_MODEL}") else pytest.param(path, marks=pytest.mark.slow)
           for path in sorted(shipped_models_dir().glob("*.onnx"))]



@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: getattr(p, "stem", None))
def test_at_most_5_percent_of_the_test_set_is_flagged(path):
    from resnet_studio.export.ood_fit import features_of
    from resnet_studio.export.scoring import fashion_mnist_samples

    info = read_model(path)
    assert info.ood is not None and info.ood.description == "10 kinds of clothing, greyscale, on black"
    flagged = (info.ood.scores(features_of(path, fashion_mnist_samples(info.preprocess, 10_000))) >
               info.ood.threshold).mean()
    assert 0.02 < flagged <= 0.05



def test_the_parameters_round_trip_through_metadata():
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(600, 8)), np.repeat(np.arange(3), 200)
    features[labels == 1] += 4
    means, precision = fit(features, labels, 3)
    ood = OutOfDistribution(means, precision, 12.5, "three blobs")
    back = OutOfDistribution.from_metadata(json.loads(json.dumps(ood.to_metadata())), 3)
    np.testing.assert_allclose(back.scores(features), ood.scores(features), rtol=1e-4)
    assert back.threshold == 12.5 and back.description == "three blobs"
    assert OutOfDistribution.from_metadata(ood.to_metadata(), 2) is None  # more centres than classes
    assert OutOfDistribution.from_metadata({**ood.to_metadata(), "threshold": "NaN"}, 3) is None
    far = rng.normal(size=(50, 8)) + 30
    assert auroc(ood.scores(features), ood.scores(far)) == 1.0



def test_predict_json_carries_the_flag_and_a_model_without_parameters_has_none(tmp_path):
    from resnet_studio.export.api import export, prepare

    photo = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(photo)
    shirt = shipped_models_dir() / "samples" / "shirt-test4.png"
    plain = tmp_path / "random.onnx"
    export(prepare("resnet20"), plain)

    def results(model):
        out = subprocess.run([sys.executable, "-m", "resnet_studio.gui.cli.main", "predict", photo, shirt, "--model",
                              model, "--json", "--device", "cpu"], capture_output=True, text=True, timeout=120)
        return json.loads(out.stdout)["results"]

    shipped = results(DEFAULT_MODEL)
    assert [r["out_of_distribution"] for r in shipped] == [True, False]
    assert shipped[0]["ood_score"] > read_model(shipped_models_dir() / f"{DEFAULT_MODEL}.onnx").ood.threshold
    assert all(r["out_of_distribution"] is None and r["ood_score"] is None for r in results(plain))



def test_a_calibration_folder_stands_in_for_training_data_that_is_not_at_hand(tmp_path):
    """ImageNet exports: fitted to the user's own typical images, and saying so."""
    from resnet_studio.export.api import export, prepare

    model = tmp_path / "resnet18-small.onnx"
    export(prepare("resnet18", image_size=64), model)
    rng = np.random.default_rng(5)
    typical, other = tmp_path / "typical", tmp_path / "other"
    typical.mkdir()
    other.mkdir()
    for i in range(100):  # smooth colour gradients, like skies
        top, bottom = rng.integers(0, 255, 3), rng.integers(0, 255, 3)
        Image.fromarray(np.linspace(top, bottom, 64)[:, None, :].repeat(64, axis=1).astype(np.uint8)).save(
            typical / f"{i:03d}.png")
    for i in range(20):  # salt-and-pepper noise: nothing like them
        Image.fromarray((rng.random((64, 64, 3)) > 0.5).astype(np.uint8) * 255).save(other / f"{i:03d}.png")
    few = tmp_path / "few"
    few.mkdir()
    (typical / "000.png").rename(few / "only.png")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "resnet_studio.export.ood_fit", *map(str, args)],
                              capture_output=True, text=True, timeout=300)

    refused = run(model, "--calibrate", few)
    assert refused.returncode == 2 and "calibration needs 64 or more" in refused.stderr
    assert read_model(model).ood is None
    done = run(model, "--calibrate", typical, "--describe", "gradient skies")
    assert done.returncode == 0, done.stderr
    info = read_model(model)
    assert info.ood is not None and info.ood.means.shape == (1, 512) and info.ood.description == "gradient skies"
    props = {p.key: p.value for p in __import__("onnx").load(str(model)).metadata_props}
    assert "not the training data" in json.loads(props["ood"])["calibration"]
    from resnet_studio.export.ood_fit import features_of
    from resnet_studio.export.scoring import folder_samples

    inside = info.ood.scores(features_of(model, folder_samples(typical, info.preprocess)[0]))
    outside = info.ood.scores(features_of(model, folder_samples(other, info.preprocess)[0]))
    assert (inside > info.ood.threshold).mean() <= 0.1
    assert (outside > info.ood.threshold).all() and auroc(inside, outside) == 1.0

