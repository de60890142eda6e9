"""The model family: torchvision's parameter counts, MACs and state-dict names, and the structure description."""

import json

import pytest
import torch
from resnet_studio.models import VARIANTS, build_model, describe
from resnet_studio.models.registry import UnknownVariantError, get_variant

# torchvision's published figures at 1000 classes (torchvision.models docs, "Params" and "GFLOPS" columns).
PUBLISHED = {
    "resnet18": (11_689_512, 1.814), "resnet34": (21_797_672, 3.664), "resnet50": (25_557_032, 4.089),
    "resnet101": (44_549_160, 7.801), "resnet152": (60_192_808, 11.514),
    "resnext50_32x4d": (25_028_904, 4.23), "resnext101_32x8d": (88_791_336, 16.414),
    "resnext101_64x4d": (83_455_272, 15.46), "wide_resnet50_2": (68_883_240, 11.398),
    "wide_resnet101_2": (126_886_696, 22.753),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_every_variant_builds_and_runs(name):
    variant = VARIANTS[name]
    model = build_model(name, num_classes=7).eval()
    size = 64 if variant.family == "imagenet" else variant.input_size
    with torch.no_grad():
        logits = model(torch.randn(2, variant.in_channels, size, size))
    assert logits.shape == (2, 7)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_params_and_macs_match_torchvision(name):
    params, gmacs = PUBLISHED[name]
    info = describe(build_model(name), 224)
    assert info["params"] == params
    decimals = len(str(gmacs).split(".")[1])
    assert round(info["macs"] / 1e9, decimals) == gmacs


def test_registry_covers_the_family():
    assert set(PUBLISHED) <= set(VARIANTS)
    assert {"resnet20", "resnet32", "resnet44", "resnet56", "resnet110"} <= set(VARIANTS)
    small = [v for v in VARIANTS.values() if v.family == "small"]
    assert any(v.groups > 1 for v in small), "a small ResNeXt"
    # He et al. 2015, Table 6: 0.27M / 0.46M / 0.66M / 0.85M / 1.7M parameters.
    for name, paper in {"resnet20": 0.27, "resnet32": 0.46, "resnet44": 0.66, "resnet56": 0.85}.items():
        assert abs(describe(build_model(name), 32)["params"] / 1e6 - paper) < 0.015


def test_small_resnext_cardinality_and_width_are_configurable():
    model = build_model("resnext29_8x4d", groups=16, width_per_group=2)
    assert model.layer1[0].conv2.groups == 16
    assert model.layer1[0].conv2.out_channels == 32
    greyscale = build_model("resnet20")
    assert greyscale.conv1.in_channels == 1 and not hasattr(greyscale, "layer4")
    assert isinstance(greyscale.maxpool, torch.nn.Identity) and greyscale.conv1.kernel_size == (3, 3)
    assert build_model("resnet20", in_channels=3).conv1.in_channels == 3


def test_unknown_variant_suggests_close_names():
    with pytest.raises(UnknownVariantError, match="did you mean .*resnet50"):
        get_variant("resnet5O")


def test_state_dict_names_are_torchvisions():
    keys = set(build_model("resnet50").state_dict())
    for key in ["conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked", "layer1.0.conv2.weight",
                "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "layer4.2.bn3.bias",
                "fc.weight", "fc.bias"]:
        assert key in keys
    assert len(keys) == 320  # torchvision's resnet50 state dict has 320 entries
    assert not any(k.startswith(("maxpool", "stages", "avgpool")) for k in keys)


def test_v1_stride_placement_moves_stride_and_keeps_params():
    v15 = build_model("resnet50")
    v1 = build_model("resnet50", stride_in_1x1=True)
    assert v15.layer2[0].conv1.stride == (1, 1) and v15.layer2[0].conv2.stride == (2, 2)
    assert v1.layer2[0].conv1.stride == (2, 2) and v1.layer2[0].conv2.stride == (1, 1)
    assert sum(p.numel() for p in v1.parameters()) == sum(p.numel() for p in v15.parameters())
    # Same weights, different placement: same shapes out, different values.
    v1.load_state_dict(v15.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = v15.eval()(x), v1.eval()(x)
    assert a.shape == b.shape and not torch.allclose(a, b)
    assert describe(v1, 224)["macs"] < describe(v15, 224)["macs"]  # the 3x3 now runs at the lower resolution


def test_zero_init_residual():
    model = build_model("resnet50", zero_init_residual=True)
    assert all(int(torch.count_nonzero(b.bn3.weight)) == 0 for stage in model.stages() for b in stage)
    basic = build_model("resnet18", zero_init_residual=True)
    assert int(torch.count_nonzero(basic.layer1[0].bn2.weight)) == 0
    assert int(torch.count_nonzero(build_model("resnet18").layer1[0].bn2.weight)) == 64


def test_injectable_norm_layer():
    model = build_model("resnet18", norm_layer=lambda c: torch.nn.GroupNorm(8, c))
    assert isinstance(model.layer1[0].bn1, torch.nn.GroupNorm)
    assert describe(model, 64)["stem"]["layers"][1]["norm"] == "GroupNorm"


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnext50_32x4d", "resnet20", "resnext29_8x4d"])
def test_structure_matches_the_real_forward(name):
    variant = VARIANTS[name]
    model = build_model(name).eval()
    size = 96 if variant.family == "imagenet" else 28
    info = describe(model, size, variant=name)
    assert json.loads(json.dumps(info)) == info
    with torch.no_grad():
        x = torch.randn(1, variant.in_channels, size, size)
        stem = model.maxpool(model.relu(model.bn1(model.conv1(x))))
        assert list(stem.shape[1:]) == info["stem"]["output_shape"]
        for stage, described in zip(model.stages(), info["stages"]):
            for block, block_info in zip(stage, described["blocks"]):
                stem = block(stem)
                assert list(stem.shape[1:]) == block_info["output_shape"]
    assert sum(s["params"] for s in info["stages"]) + info["stem"]["params"] + info["head"]["params"] == info["params"]


def test_shortcut_kinds():
    r18 = describe(build_model("resnet18"), 224)
    kinds = [[(b["shortcut"]["type"], b["shortcut"]["stride"]) for b in s["blocks"]] for s in r18["stages"]]
    assert kinds == [[("identity", 1)] * 2] + [[("projection", 2), ("identity", 1)]] * 3
    r50 = describe(build_model("resnet50"), 224)
    assert r50["stages"][0]["blocks"][0]["shortcut"]["type"] == "projection"
    assert r50["stages"][0]["blocks"][0]["shortcut"]["stride"] == 1
    assert [len(s["blocks"]) for s in r50["stages"]] == [3, 4, 6, 3]
    x50 = describe(build_model("resnext50_32x4d"), 224)
    assert x50["stages"][0]["blocks"][0]["groups"] == 32 and r50["stages"][0]["blocks"][0]["groups"] == 1
    assert x50["stages"][0]["blocks"][0]["width"] == 128 and r50["stages"][0]["blocks"][0]["width"] == 64


def test_plain_variants_are_their_resnets_without_shortcuts():
    for depth in (20, 56):
        plain, residual = build_model(f"plain{depth}").eval(), build_model(f"resnet{depth}").eval()
        assert not any(b.downsample is not None or b.residual for s in plain.stages() for b in s)
        # Only the two projections (1x1 conv + BN on the first block of stages 2 and 3) go: 16*32 + 2*32 + 32*64 + 2*64.
        assert VARIANTS[f"resnet{depth}"].params() - VARIANTS[f"plain{depth}"].params() == 2752
        info = describe(plain, 28, variant=f"plain{depth}")
        assert info["residual"] is False and info["params"] == VARIANTS[f"plain{depth}"].params()
        blocks = [b for s in info["stages"] for b in s["blocks"]]
        assert {b["shortcut"]["type"] for b in blocks} == {"none"}
        assert not any(layer["kind"] == "add" for b in blocks for layer in b["layers"])
        # Same weights, different function: the plain block does not add its input back.
        plain.load_state_dict({k: v for k, v in residual.state_dict().items() if "downsample" not in k})
        x = torch.randn(1, 1, 28, 28)
        with torch.no_grad():
            block = residual.layer1[0]
            assert torch.allclose(plain.layer1[0](x := residual.relu(residual.bn1(residual.conv1(x)))),
                                  torch.relu(block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x)))))))
            assert not torch.allclose(plain.layer1[0](x), block(x))


def test_matches_torchvision_when_available():
    tv = pytest.importorskip("torchvision.models")
    for name in ["resnet18", "resnext50_32x4d", "wide_resnet50_2"]:
        reference = getattr(tv, name)().eval()
        ours = build_model(name).eval()
        ours.load_state_dict(reference.state_dict(), strict=True)
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            torch.testing.assert_close(ours(x), reference(x))
