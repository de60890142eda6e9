"""The architecture of every registry variant shipped as data: what it says is what describe() says."""

import pytest
from resnet_studio.core.architecture import Architecture
from resnet_studio.core.shipped_architectures import names, shipped_architecture
from resnet_studio.models import VARIANTS, build_model, describe

FAST = ("resnet18", "resnext50_32x4d", "resnet20", "plain20")


def test_every_variant_is_shipped():
    assert names() == sorted(VARIANTS)


@pytest.mark.parametrize("name", [n if n in FAST else pytest.param(n, marks=pytest.mark.slow) for n in VARIANTS])
def test_the_shipped_description_is_what_describe_says(name):
    """Regenerate with `python -m resnet_studio.models.architectures_data` when the family changes."""
    expected = Architecture.from_json(describe(build_model(name), VARIANTS[name].input_size, variant=name))
    assert shipped_architecture(name) == expected


def test_receptive_fields_follow_the_paper_arithmetic():
    from resnet_studio.core.architecture import Architecture
    from resnet_studio.gui.viewmodel.receptive_field import receptive_field, seen_input
    from resnet_studio.models import VARIANTS, build_model, describe

    arch = Architecture.from_json(describe(build_model("resnet20"), VARIANTS["resnet20"].input_size, variant="resnet20"))
    # 3×3 stem, then two 3×3 convs per block; layer2.0's first conv has stride 2.
    assert receptive_field(arch, "stem") == (3, 1)
    assert receptive_field(arch, "layer1.2") == (15, 1)
    assert receptive_field(arch, "layer2.1") == (29, 2)
    assert seen_input(arch, "layer1.0", 0, 4) == "sees input rows 0–3, columns 1–7 (receptive field 7×7 px)"
