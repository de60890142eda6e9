"""Weights: state dicts, safetensors, refused pickles, and the real download code against local servers."""

import hashlib
import pickle
from pathlib import Path

import pytest
import torch
from resnet_studio.models import build_model, get_variant
from resnet_studio.models.registry import ImageNetWeights
from resnet_studio.models.weights import WeightsError, fetch_imagenet, load_weights_into
from safetensors.torch import save_file


def _torchvision_style_file(tmp_path: Path, name="resnet18", **kwargs) -> tuple[Path, dict]:
    state = build_model(name, **kwargs).state_dict()
    path = tmp_path / f"{name}.pth"
    torch.save(state, path)
    return path, state


def test_pth_state_dict_loads_strictly(tmp_path):
    path, state = _torchvision_style_file(tmp_path)
    model = build_model("resnet18")
    info = load_weights_into(model, str(path), get_variant("resnet18"))
    assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    for key, tensor in model.state_dict().items():
        assert torch.equal(tensor, state[key]), key


def test_safetensors_loads(tmp_path):
    state = build_model("resnet20").state_dict()
    path = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    model = build_model("resnet20")
    load_weights_into(model, str(path), get_variant("resnet20"))
    assert torch.equal(model.fc.weight, state["fc.weight"])


def test_mismatch_lists_missing_unexpected_and_misshaped_keys(tmp_path):
    state = build_model("resnet18", num_classes=10).state_dict()
    del state["layer1.0.bn1.running_var"]
    state["extra.weight"] = torch.zeros(1)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(WeightsError) as err:
        load_weights_into(build_model("resnet18"), str(path), get_variant("resnet18"))
    message = str(err.value)
    assert "1 missing: layer1.0.bn1.running_var" in message
    assert "1 unexpected: extra.weight" in message
    assert "fc.weight: file (10, 512), model (1000, 512)" in message
    assert "\n" not in message


def test_skip_head_keeps_the_new_classifier(tmp_path):
    path, _ = _torchvision_style_file(tmp_path)
    model = build_model("resnet18", num_classes=2)
    fc = model.fc.weight.detach().clone()
    load_weights_into(model, str(path), get_variant("resnet18"), skip_head=True)
    assert torch.equal(model.fc.weight, fc)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_hostile_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        pickle.dump({"fc.weight": _RunsCode(str(marker))}, f)
    torch.save({"model": _RunsCode(str(marker))}, tmp_path / "evil2.pt")
    for candidate in (path, tmp_path / "evil2.pt"):
        with pytest.raises(WeightsError, match="refused, it needs unpickling"):
            load_weights_into(build_model("resnet18"), str(candidate), get_variant("resnet18"))
    assert not marker.exists()


def _fake_entry(tmp_path: Path) -> tuple[ImageNetWeights, Path]:
    """A checkpoint published at a file:// URL, named the torchvision way after its sha256."""
    served = tmp_path / "served.pth"
    torch.save(build_model("resnet18").state_dict(), served)
    prefix = hashlib.sha256(served.read_bytes()).hexdigest()[:8]
    return ImageNetWeights(f"resnet18-{prefix}.pth", 69.758, resize=256), served


def test_imagenet_download_goes_through_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    entry, served = _fake_entry(tmp_path)
    seen = []
    path = fetch_imagenet(entry, url=served.as_uri(), progress=lambda done, total: seen.append((done, total)))
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / entry.file
    assert path.read_bytes() == served.read_bytes()
    size = served.stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    assert [p.name for p in path.parent.iterdir()] == [entry.file]  # no partial file left
    # Second call uses the cache; the served file may be gone.
    served.unlink()
    assert fetch_imagenet(entry, url=served.as_uri()) == path


def test_imagenet_download_with_a_bad_hash_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    _, served = _fake_entry(tmp_path)
    entry = ImageNetWeights("resnet18-00000000.pth", 69.758, resize=256)
    with pytest.raises(WeightsError, match="failed its check"):
        fetch_imagenet(entry, url=served.as_uri())
    assert not (tmp_path / "torch" / "hub" / "checkpoints" / entry.file).exists()


def test_cache_path_is_torch_hubs_without_importing_it(tmp_path, monkeypatch):
    from resnet_studio.models.registry import hub_checkpoint_dir

    for env in ({}, {"XDG_CACHE_HOME": str(tmp_path / "xdg")}, {"TORCH_HOME": str(tmp_path / "th")}):
        for key in ("TORCH_HOME", "XDG_CACHE_HOME"):
            monkeypatch.delenv(key, raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        assert hub_checkpoint_dir() == Path(torch.hub.get_dir()) / "checkpoints"


def test_a_mirror_replaces_the_download_base(monkeypatch):
    entry = get_variant("resnet18").imagenet["v1"]
    assert entry.url == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    monkeypatch.setenv("RESNET_STUDIO_WEIGHTS_MIRROR", "http://mirror.invalid/tv/")
    assert entry.url == "http://mirror.invalid/tv/resnet18-f37072fd.pth"


def test_a_silent_server_fails_within_the_timeout(tmp_path):
    import socket
    import time

    from resnet_studio.models.weights import DownloadError, download

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)  # accepts the connection, then never answers
    url = f"http://127.0.0.1:{server.getsockname()[1]}/x.pth"
    started = time.monotonic()
    with pytest.raises(DownloadError) as err:
        download(url, tmp_path / "x.pth", "00", timeout=1.0)
    server.close()
    assert time.monotonic() - started < 10
    assert err.value.url == url and err.value.cache_path == tmp_path / "x.pth"
    assert list(tmp_path.iterdir()) == []


def test_hand_placed_file_with_wrong_hash_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    entry = ImageNetWeights("resnet18-f37072fd.pth", 69.758, resize=256)
    target = tmp_path / "torch" / "hub" / "checkpoints" / entry.file
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not the real file")
    with pytest.raises(WeightsError, match="expected f37072fd"):
        fetch_imagenet(entry)


def test_no_network_names_the_url_and_the_cache_path(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    entry = get_variant("resnet18").imagenet["v1"]
    # Port 9 on loopback refuses at once, standing in for a machine with no network.
    with pytest.raises(WeightsError) as err:
        fetch_imagenet(entry, url="http://127.0.0.1:9/models/" + entry.file)
    message = str(err.value)
    assert "http://127.0.0.1:9/models/resnet18-f37072fd.pth" in message
    assert str(tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth") in message


def test_imagenet_choice_of_version():
    from resnet_studio.models.weights import imagenet_entry

    r50 = get_variant("resnet50")
    assert imagenet_entry(r50, "imagenet").file == "resnet50-11ad3fa6.pth"
    assert imagenet_entry(r50, "imagenet-v1").resize == 256
    assert imagenet_entry(r50, "imagenet-v2").resize == 232
    with pytest.raises(WeightsError, match="no ImageNet v2"):
        imagenet_entry(get_variant("resnet18"), "imagenet-v2")
    with pytest.raises(WeightsError, match="no ImageNet checkpoint"):
        imagenet_entry(get_variant("resnet20"), "imagenet")
