"""Weights read back from an ONNX file this project exported, to train on from there (fine-tuning from
the shipped Fashion-MNIST models, or re-exporting them). The exporter folds each batch norm into the conv
before it, so the file keeps the folded conv weights and biases and no BN statistics."""

from __future__ import annotations

from pathlib import Path

import torch

from .registry import build_model


def state_from_onnx(path: Path, variant: str, num_classes: int, in_channels: int) -> dict[str, torch.Tensor]:
    """A state dict whose model computes what the (BN-folded) ONNX file computes."""
    import onnx
    from onnx import numpy_helper

    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
               for i in onnx.load(str(path)).graph.initializer}
    model = build_model(variant, num_classes=num_classes, in_channels=in_channels)
    state = model.state_dict()
    by_value = {}
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        if node.op_type == "Conv" and len(node.input) == 3:
            by_value[node.input[1]] = node.input[2]  # a conv's weight name -> its folded bias
    for name in state:
        if name.endswith("num_batches_tracked"):
            continue
        if name in weights:
            state[name] = weights[name]
            continue
        # A BN after a conv: identity scale, the conv's folded bias as its shift.
        module, field = name.rsplit(".", 1)
        conv = module[:-1] + "0" if module.endswith("downsample.1") else module.replace("bn", "conv")
        bias = weights.get(by_value.get(f"{conv}.weight", ""))
        if bias is None:
            raise ValueError(f"{path}: cannot rebuild {name} from the file's initializers")
        eps = 1e-5
        state[name] = {"weight": torch.ones_like(bias), "bias": bias, "running_mean": torch.zeros_like(bias),
                       "running_var": torch.full_like(bias, 1 - eps)}[field]
    return state


@torch.no_grad()
def unfold_batch_norm(model: torch.nn.Module, images: torch.Tensor) -> None:
    """Give each folded (identity) BN the statistics of its input on ``images`` and the scale and shift that
    undo them, so the model computes the same function in eval mode and about the same in train mode.

    A folded BN trained as it is would normalise each channel by its batch statistics, which the folded
    network never did: fine-tuning would start from a different function than the one in the file.
    """
    seen: dict[torch.nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}

    def record(module, inputs) -> None:
        x = inputs[0].float()
        seen[module] = (x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False))

    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    hooks = [m.register_forward_pre_hook(record) for m in norms]
    model.eval()
    try:
        model(images)
    finally:
        for hook in hooks:
            hook.remove()
    for norm in norms:
        mean, var = seen[norm]
        shift = norm.bias.clone()  # the folded conv bias: the identity BN adds it
        norm.running_mean.copy_(mean)
        norm.running_var.copy_(var)
        norm.weight.copy_(torch.sqrt(var + norm.eps))
        norm.bias.copy_(mean + shift)


def read_base(path: Path, variant: str | None = None):
    """The model file a fine-tuning run starts from, checked: one of ours, readable, of ``variant``
    when one is named."""
    from resnet_studio.core.model_file import ModelRejected, read_model

    from .weights import WeightsError

    try:
        info = read_model(path)
    except ModelRejected as exc:
        raise WeightsError(str(exc)) from None
    if info.variant is None or not info.has_metadata:
        raise WeightsError(f"{path}: not a file resnet-export wrote, so its weights cannot be read back")
    if variant is not None and info.variant != variant:
        raise WeightsError(f"{path} holds a {info.variant}, not a {variant}")
    if info.precision != "fp32":
        raise WeightsError(f"{path} is the {info.precision} twin; start from the fp32 file")
    return info


def load_onnx_base(model: torch.nn.Module, path: Path, variant: str, images: torch.Tensor) -> dict:
    """Load ``path``'s weights (its head left out) into ``model`` and unfold its BNs on ``images``
    (normalised training images); returns where the weights came from, for the model's metadata."""
    from .weights import apply_state_dict, sha256_of

    info = read_base(path, variant)
    state = state_from_onnx(path, variant, info.num_classes, info.input.channels)
    apply_state_dict(model, state, path.name, skip_head=True)
    unfold_batch_norm(model, images)
    return {"source": "file", "file": path.name, "sha256": sha256_of(path), "dataset": info.meta.dataset}
