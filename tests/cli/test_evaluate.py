"""``resnet-studio evaluate``: a model scored on a labelled folder, checked against ``predict`` on the same files."""

import json

import numpy as np
import pytest
from PIL import Image

from runners import DEFAULT, cli, one_line_refusal

from resnet_studio.core.evaluation import wilson
from resnet_studio.models.fashion_mnist import CLASSES, load_split

# Folder names as a user writes them: "/" cannot be in one, case and separators differ, and their sorted
# order (Ankle…, Bag, Sneaker, T-shirt…, Trouser) is not the labels' order.
FOLDER_NAMES = {"T-shirt/top": "t-shirt_top", "Trouser": "TROUSER", "Bag": "bag", "Sneaker": "Sneaker",
                "Ankle boot": "ankle-boot"}


@pytest.fixture(scope="module")
def fashion_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("labelled")
    images, labels = load_split("test")
    written = {}
    for i in range(300):
        label = CLASSES[labels[i]]
        if label in FOLDER_NAMES and written.get(label, 0) < 8:
            folder = root / FOLDER_NAMES[label]
            folder.mkdir(exist_ok=True)
            Image.fromarray(images[i]).save(folder / f"{i}.png")
            written[label] = written.get(label, 0) + 1
    return root, written


def test_evaluate_matches_predict_and_matches_classes_by_name(fashion_folder):
    root, written = fashion_folder
    # One runtime for both commands: the comparison is of answers, not of two runtimes' rounding.
    result = cli("evaluate", str(root), "--model", str(DEFAULT), "--json", "--runtime", "onnxruntime")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    confusion = np.array(report["confusion"])
    assert report["labels"] == CLASSES and confusion.shape == (10, 10)
    assert confusion.sum() == report["images"] == sum(written.values()) == 40
    assert np.trace(confusion) / confusion.sum() == pytest.approx(report["accuracy"])
    # Each image's true class is its folder's class by name, whatever the folder order.
    for image in report["predictions"]:
        folder = image["path"].split("/")[-2]
        assert FOLDER_NAMES[image["truth"]] == folder
    # Row sums are the images of each class; columns are what predict says on the same files.
    for label, count in written.items():
        assert confusion[CLASSES.index(label)].sum() == count
    predicted = cli("predict", str(root), "--model", str(DEFAULT), "--json", "--top-k", "1", "--runtime", "onnxruntime")
    assert predicted.returncode == 0, predicted.stderr
    top = {row["source"]: row["predictions"][0]["label"] for row in json.loads(predicted.stdout)["results"]}
    assert {i["path"]: i["predicted"] for i in report["predictions"]} == top
    wrong = {i["path"] for i in report["misclassified"]}
    assert wrong == {i["path"] for i in report["predictions"] if i["predicted"] != i["truth"]}
    assert len(wrong) == confusion.sum() - np.trace(confusion)
    for row in report["per_class"]:
        c = CLASSES.index(row["label"])
        images = confusion[c].sum()  # a class only ever predicted, never present: no recall
        assert row["recall"] == (pytest.approx(confusion[c, c] / images) if images else None)
        claimed = confusion[:, c].sum()  # no image predicted as c: its precision is undefined, not 0
        assert row["precision"] == (pytest.approx(confusion[c, c] / claimed) if claimed else None)
    assert [i["confidence"] for i in report["least_confident"]] == sorted(i["confidence"] for i in report["least_confident"])


def test_evaluate_text_report_shows_the_interval_on_few_images(tmp_path):
    images, labels = load_split("test")
    for i in range(40):
        if CLASSES[labels[i]] in ("Bag", "Trouser"):
            (tmp_path / CLASSES[labels[i]]).mkdir(exist_ok=True)
            Image.fromarray(images[i]).save(tmp_path / CLASSES[labels[i]] / f"{i}.png")
    result = cli("evaluate", str(tmp_path), "--model", str(DEFAULT))
    assert result.returncode == 0, result.stderr
    assert "(95% interval" in result.stdout.splitlines()[0] and "confusion (rows: true class" in result.stdout


def test_a_folder_no_label_names_is_refused_by_name(tmp_path):
    (tmp_path / "Bag").mkdir()
    (tmp_path / "Cats").mkdir()
    Image.new("L", (28, 28)).save(tmp_path / "Bag" / "a.png")
    one_line_refusal(cli("evaluate", str(tmp_path), "--model", str(DEFAULT)), "match no class of the model: Cats")


def test_wilson_interval():
    # Wilson (1927); values as in Newcombe (1998), Table I: 81/263 and 0/10.
    assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    low, high = wilson(0, 10)
    assert low == 0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson(10, 10)[1] == 1.0 and wilson(5, 10)[0] == pytest.approx(1 - wilson(5, 10)[1])
