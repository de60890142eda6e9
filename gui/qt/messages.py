"""What the app's workers hand back to ``state.Studio``: one typed message for each kind of job.

Workers run off the GUI thread and emit one of these through their ``result`` signal; Studio
checks the generation or ticket it carries, so an answer for a model or a request that has been
replaced since is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resnet_studio.gui.viewmodel import intake, lineup
from resnet_studio.core.engine import BlockParts, ClassActivationMap, FeatureMaps
from resnet_studio.core.model_file import ModelInfo
from resnet_studio.core.session import SessionHandle


@dataclass(frozen=True)
class ModelsListed:
    offers: list[lineup.Offer]
    settling: bool  # a user file still reads as broken and may be mid-copy: look again soon


@dataclass(frozen=True)
class ModelLoaded:
    info: ModelInfo
    handle: SessionHandle  # created before the switch, so loading errors surface first


@dataclass(frozen=True)
class IntakeBatch:
    items: list[intake.Item]  # images to add, each with its reason when it was refused
    notice: str | None = None  # said once the intake is done (a cap reached)
    model: str | None = None  # a model file that was dropped: it opens as the model


@dataclass
class Details:
    entry_id: int
    preview: np.ndarray  # [H, W, 3] uint8, at most preview_side on its longer side
    model_input: np.ndarray  # [h, w, 3] uint8: the tensor the network was given, as a picture
    crop: tuple[float, float, float, float] | None  # what the model sees, in preview pixels; None: all of it
    maps: FeatureMaps | None = None
    cam: ClassActivationMap | None = None  # its heat at the preview's size
    cam_method: str = "Class activation map"  # or "Score-CAM · layer2.1"
    cam_note: str = ""  # what bounded the work (Score-CAM's channels)
    parts: BlockParts | None = None
    responses: np.ndarray | None = None  # [blocks] std of each F(x) for this image


@dataclass(frozen=True)
class DetailsDone:
    ticket: int
    details: Details


@dataclass(frozen=True)
class WhySide:
    """One model's answer for the why-residual comparison."""

    title: str
    heat: np.ndarray  # CAM, [H, W] in [0, 1], the preview's size
    lines: list[str]  # top three, and the out-of-distribution note
    responses: np.ndarray  # [blocks] std of each F(x)


@dataclass(frozen=True)
class Comparison:
    name: str
    preview: np.ndarray
    plain: WhySide
    residual: WhySide


@dataclass(frozen=True)
class WhyDone:
    ticket: int
    comparison: Comparison


@dataclass(frozen=True)
class MeanResponses:
    generation: int
    mean: np.ndarray  # [blocks]
    images: int
    closeness: np.ndarray | None = None  # [blocks] mean ‖F(x)‖ / ‖x‖
