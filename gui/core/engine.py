"""Classification, feature maps and class activation maps on top of the session pool.

Every result names the model and the provider that produced it.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
from PIL import Image

from .intake import ImageRejected, load_image
from .contract_parts import Preprocess
from .model_file import ModelInfo
from .preprocess import crop_box, to_input
from .session import RunFailed, SessionPool


@dataclass
class Prediction:
    index: int
    label: str
    probability: float

    @property
    def percent(self) -> str:
        return percent(self.probability)


def percent(p: float) -> str:
    """The one way a probability is written, so every view rounds it alike.

    Rounding must not claim certainty or impossibility that the model did not give: 0.99996 is ">99.9%",
    not "100.0%", and 0.00004 is "<0.1%", not "0.0%". A softmax that reaches exactly 1 or 0 in floating
    point (a saturated or random-weight network) is no more certain than that, so it reads the same.
    """
    text = f"{p:.1%}"
    if text == "100.0%":
        return ">99.9%"
    if text == "0.0%":
        return "<0.1%"
    return text


@dataclass
class Result:
    source: str
    model: str
    weights: str
    provider: str | None = None
    provider_note: str | None = None
    predictions: list[Prediction] = field(default_factory=list)
    error: str | None = None
    decode_ms: float = 0.0
    inference_ms: float = 0.0
    # None when the model carries no out-of-distribution parameters (an old file, or one from elsewhere).
    out_of_distribution: bool | None = None
    ood_score: float | None = None
    precision: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def provider_label(self) -> str:
        """What ran it, short: "CUDA", "CPU · ONNX Runtime", "CPU · OpenVINO"; why not CUDA is in
        ``provider_note`` (a tooltip, ``predict --verbose``)."""
        if self.provider == "CUDAExecutionProvider":
            return "CUDA"
        return {"OpenVINO": "CPU · OpenVINO", "CPUExecutionProvider": "CPU · ONNX Runtime"}.get(self.provider or "", "?")

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def failure(cls, info: ModelInfo, source: str, reason: str) -> Result:
        """An image that could not be classified, with the one-line reason."""
        return cls(source, info.name, info.weights_source, error=reason, precision=info.precision)

    @classmethod
    def from_json(cls, data: dict) -> Result:
        return cls(**{**data, "predictions": [Prediction(**p) for p in data["predictions"]]})


@dataclass
class FeatureMaps:
    """Some channels of one block's output, raw, with the two ways of scaling them for display."""

    block: str
    shape: list[int]  # [C, H, W] of the block output
    channels: list[int]  # channel indices, in the order asked for (strongest or weakest mean first)
    values: np.ndarray  # [len(channels), H, W] float32, the block's own output values
    means: list[float]

    def scaled(self, shared: bool) -> tuple[np.ndarray, float, float]:
        """Maps in [0, 1] and the value range that 0 and 1 stand for.

        Shared: one range over all the channels shown, so a weak or dead channel looks dark.
        Per channel: each map stretched over its own range (the returned range is then the widest).
        """
        if shared:
            low, high = float(self.values.min()), float(self.values.max())
            span = high - low
            maps = (self.values - low) / span if span > 0 else np.zeros_like(self.values)
            return maps.astype(np.float32), low, high
        return normalise_maps(self.values), float(self.values.min()), float(self.values.max())


@dataclass
class BlockParts:
    """What one block adds, for the same channels: its input, F(x), the shortcut and the output.

    ``input`` shows the input's own strongest channels where a projection changes the shape.
    """

    block: str
    channels: list[int]
    input: np.ndarray  # [n, h, w]
    input_channels: list[int]
    branch: np.ndarray  # [n, H, W] F(x), before the addition
    shortcut: np.ndarray | None  # [n, H, W] the identity or the projection; None in a plain network
    output: np.ndarray  # [n, H, W] relu(F(x) + shortcut)
    projection: bool


@dataclass
class ClassActivationMap:
    heat: np.ndarray  # [H, W] in [0, 1], the image's size; zero outside the crop the model saw
    class_index: int
    probability: float
    peak: float = 1.0  # the CAM value that heat 1 stands for: the class's own peak, or every class's
    shared: bool = False  # one scale for every class: a class the model gives little shows dim
    probabilities: np.ndarray | None = None  # every class's, for the class list


def top_k(probabilities: np.ndarray, labels: list[str], k: int) -> list[Prediction]:
    order = np.argsort(-probabilities)[:k]
    return [Prediction(int(i), labels[i], float(probabilities[i])) for i in order]


def normalise_maps(maps: np.ndarray) -> np.ndarray:
    """Scale each map to [0, 1] on its own; a constant map becomes zeros."""
    low = maps.min(axis=(-2, -1), keepdims=True)
    span = maps.max(axis=(-2, -1), keepdims=True) - low
    return np.where(span > 0, (maps - low) / np.where(span > 0, span, 1), 0).astype(np.float32)


def decode(preprocess: Preprocess, path: str | Path) -> Image.Image:
    """One image file, opened for a model that preprocesses as ``preprocess`` says."""
    # Large JPEGs decode at a reduced scale, never below what the resize step needs.
    return load_image(path, preprocess.decode_mode, min_side=preprocess.resize)


def read_input(preprocess: Preprocess, path: str | Path,
               decoded_hook: Callable[[str, Image.Image], None] | None = None) -> tuple[np.ndarray | None, str | None, float]:
    """One file to the model's input, or the reason it cannot be read; with the milliseconds it took.

    The one intake step of local ``predict``, the app and ``predict --ray``.
    """
    started = time.perf_counter()
    try:
        image = decode(preprocess, path)
        if decoded_hook is not None:
            decoded_hook(str(path), image)
        array, error = to_input(image, preprocess), None
    except ImageRejected as exc:
        array, error = None, str(exc)
    return array, error, round((time.perf_counter() - started) * 1000, 3)


class Engine:
    def __init__(self, pool: SessionPool | None = None) -> None:
        self.pool = pool or SessionPool()
        # Blocks taken out (core.lesion): every answer, tap and map is then the lesioned network's.
        self.removed: frozenset[str] = frozenset()

    def model_input(self, info: ModelInfo, image: Image.Image) -> np.ndarray:
        return to_input(image, info.preprocess)

    def decode(self, info: ModelInfo, path: str | Path) -> Image.Image:
        return decode(info.preprocess, path)

    def classify_arrays(self, info: ModelInfo, batch: np.ndarray, sources: list[str], k: int = 5) -> list[Result]:
        started = time.perf_counter()
        outputs = [info.output.name, info.taps.features] if info.ood else [info.output.name]
        handle, (raw, *features) = self.pool.run(info, batch, outputs, removed=self.removed)
        if raw.shape != (len(sources), info.output.width):
            raise RunFailed(f"{info.name}: gave logits of shape {list(raw.shape)} for {len(sources)} image(s), "
                            f"but declares {info.output.width} classes")
        elapsed = (time.perf_counter() - started) * 1000 / len(sources)
        probabilities = info.output.probabilities(raw)
        results = [Result(source, info.name, info.weights_source, handle.provider, handle.reason,
                          top_k(p, info.labels, k), inference_ms=round(elapsed, 3), precision=info.precision)
                   for source, p in zip(sources, probabilities)]
        # The warning's fit describes the whole network: with blocks removed, its distances mean nothing.
        if info.ood and not self.removed and features and features[0].shape == (len(sources), info.ood.means.shape[1]):
            for result, score in zip(results, info.ood.scores(features[0])):
                result.ood_score = round(float(score), 3)
                result.out_of_distribution = bool(score > info.ood.threshold)
        return results

    def classify_scores(self, info: ModelInfo, batch: np.ndarray) -> np.ndarray:
        """[N, classes]: the class probabilities of model inputs (Score-CAM's masked images)."""
        _, (raw,) = self.pool.run(info, batch, [info.output.name], removed=self.removed)
        return info.output.probabilities(raw)

    def classify_files(self, info: ModelInfo, paths: Iterable[str | Path], k: int = 5,
                       batch_size: int = 8, prefetch: int = 2,
                       decoded_hook: Callable[[str, Image.Image], None] | None = None) -> Iterator[Result]:
        """Decode and classify in batches; each file yields its result or its reason, in order.

        A thread decodes up to ``prefetch`` batches ahead while ONNX Runtime runs the current one
        (Pillow and ONNX Runtime both release the GIL), so neither waits for the other.
        ``decoded_hook(source, image)`` sees each decoded image on that thread (the app makes its
        thumbnails there).
        """
        decoded: queue.Queue = queue.Queue(maxsize=max(1, prefetch * batch_size))
        stop = threading.Event()
        done = object()

        def produce() -> None:
            try:
                for path in paths:
                    if stop.is_set():
                        return
                    item = (str(path), *read_input(info.preprocess, path, decoded_hook))
                    while not stop.is_set():
                        try:
                            decoded.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
                decoded.put((None, None, exc, 0.0))
                return
            decoded.put(done)

        def flush(pending: list) -> Iterator[Result]:
            if pending:
                results = self.classify_arrays(info, np.stack([a for _, a, _ in pending]), [s for s, _, _ in pending], k)
                for result, (_, _, decode_ms) in zip(results, pending):
                    result.decode_ms = decode_ms
                    yield result
                pending.clear()

        producer = threading.Thread(target=produce, name="decode-prefetch", daemon=True)
        producer.start()
        pending: list[tuple[str, np.ndarray, float]] = []
        try:
            while True:
                # Run what is ready rather than wait for a full batch while the decoder is behind.
                try:
                    item = decoded.get(timeout=0.05) if pending else decoded.get()
                except queue.Empty:
                    yield from flush(pending)
                    continue
                if item is done:
                    break
                source, array, error, decode_ms = item
                if source is None:
                    raise error
                if error is not None:
                    yield from flush(pending)
                    yield Result.failure(info, source, error)
                    continue
                pending.append((source, array, decode_ms))
                if len(pending) >= batch_size:
                    yield from flush(pending)
            yield from flush(pending)
        finally:
            stop.set()
            producer.join(timeout=5)

    def taps(self, info: ModelInfo, batch: np.ndarray, tensors: list[str]) -> list[np.ndarray]:
        """The values of some tap tensors for a batch, each [N, C, H, W] float32 (a Keras graph's are
        transposed back), from the session that gives every tap."""
        _, values = self.pool.run(info, batch, tensors, full=True, removed=self.removed)
        return [info.taps.as_nchw(name, value) for name, value in zip(tensors, values)]

    def feature_maps(self, info: ModelInfo, image: Image.Image, block: str, top_n: int = 16,
                     weakest: bool = False) -> FeatureMaps:
        """``top_n`` channels of ``block``'s output (``stem``, ``layer2.0``, ...) by mean activation,
        strongest first, or weakest first to find the dead ones."""
        tensor = info.taps.stem if block == "stem" else info.taps.tensor(block, "output")
        if tensor is None:
            raise KeyError(f"{info.name} has no activation output for {block!r}")
        (maps,) = self.taps(info, self.model_input(info, image)[None], [tensor])
        maps = maps[0]
        means = maps.mean(axis=(1, 2))
        order = (np.argsort(means, kind="stable") if weakest else np.argsort(-means, kind="stable"))[:top_n]
        return FeatureMaps(block, list(maps.shape), [int(c) for c in order], maps[order],
                           [float(means[c]) for c in order])

    def block_parts(self, info: ModelInfo, image: Image.Image, block: str, top_n: int = 8) -> BlockParts:
        """The ``top_n`` output channels of ``block`` by mean, as input, F(x), shortcut and output."""
        taps = info.taps
        if not taps.has(block, "output", "branch"):
            raise KeyError(f"{info.name} carries no F(x) and shortcut outputs for {block}")
        shortcut_tensor, source = taps.tensor(block, "shortcut"), taps.tensor(block, "input")
        names = [taps.tensor(block, "output"), taps.tensor(block, "branch"),
                 *([shortcut_tensor] if shortcut_tensor else []), *([source] if source else [])]
        values = [v[0] for v in self.taps(info, self.model_input(info, image)[None], names)]
        output, branch = values[0], values[1]
        shortcut = values[2] if shortcut_tensor else None
        given = values[-1] if source else None
        channels = [int(c) for c in np.argsort(-output.mean(axis=(1, 2)), kind="stable")[:top_n]]
        projection = given is None or given.shape != output.shape
        if given is None:
            given, input_channels = np.zeros((0, 1, 1), np.float32), []
        elif projection:
            input_channels = [int(c) for c in np.argsort(-given.mean(axis=(1, 2)), kind="stable")[:top_n]]
        else:
            input_channels = channels
        return BlockParts(block, channels, given[input_channels].astype(np.float32), input_channels,
                          branch[channels].astype(np.float32),
                          None if shortcut is None else shortcut[channels].astype(np.float32),
                          output[channels].astype(np.float32), projection)

    def layer_responses(self, info: ModelInfo, batch: np.ndarray) -> np.ndarray:
        """[images, blocks]: the standard deviation of each block's F(x), as in He et al. (2015), Fig. 7.

        The paper measures the responses after BN and before the addition (and ReLU): F(x) here.
        """
        names = [info.taps.tensor(b, "branch") for b in info.taps.blocks() if info.taps.has(b, "branch")]
        if not names:
            raise KeyError(f"{info.name} carries no F(x) outputs")
        values = self.taps(info, batch, names)
        return np.stack([v.reshape(len(v), -1).astype(np.float64).std(axis=1) for v in values], axis=1)

    def identity_closeness(self, info: ModelInfo, batch: np.ndarray) -> np.ndarray:
        """[images, blocks]: ‖F(x)‖ / ‖x‖ of every block with both tapped, NaN where x is not: how near each
        block is to the identity, the seed idea "push the residual towards zero", per block."""
        blocks = [b for b in info.taps.blocks() if info.taps.has(b, "branch")]
        names = [info.taps.tensor(b, role) or info.taps.tensor(b, "branch") for b in blocks for role in ("branch", "input")]
        values = self.taps(info, batch, names)
        out = np.full((len(batch), len(blocks)), np.nan)
        for k, block in enumerate(blocks):
            if info.taps.has(block, "input"):
                branch, given = (v.reshape(len(batch), -1).astype(np.float64) for v in values[2 * k: 2 * k + 2])
                out[:, k] = np.linalg.norm(branch, axis=1) / np.maximum(np.linalg.norm(given, axis=1), 1e-12)
        return out

    def cam(self, info: ModelInfo, image: Image.Image, class_index: int | None = None,
            shared: bool = False) -> ClassActivationMap:
        """Class activation map (Zhou et al. 2016) at the image's size, in [0, 1], for one class.

        CAM_c = ReLU(Σ_k w[c, k] · A_k) with A the last block's output and w the fc weights;
        no gradients needed. ``class_index`` defaults to the top class. The map is divided by its own
        peak, or with ``shared`` by the highest peak of any class, so that classes compare.
        """
        if not info.has_cam:
            raise KeyError(f"{info.name} carries no activations or fc weights for a class activation map")
        batch = self.model_input(info, image)[None]
        _, (features, raw) = self.pool.run(info, batch, [info.taps.cam_layer, info.output.name], full=True,
                                           removed=self.removed)
        features = info.taps.as_nchw(info.taps.cam_layer, features)
        weight, _ = info.classifier
        probabilities = info.output.probabilities(raw)[0]
        chosen = int(np.argmax(probabilities)) if class_index is None else int(class_index)
        # A single sigmoid's "no" class has the weight's opposite; the map of "yes" is the one there is.
        rows = weight if len(weight) == info.num_classes else np.concatenate([-weight, weight])
        if shared:
            maps = np.maximum(np.tensordot(rows, features[0], axes=1), 0)
            cam, peak = maps[chosen], float(maps.max())
        else:
            cam = np.maximum(np.tensordot(rows[chosen], features[0], axes=1), 0)
            peak = float(cam.max())
        cam = cam / peak if peak > 0 else cam
        return ClassActivationMap(upsample_to(cam, image.size, info.preprocess), chosen, float(probabilities[chosen]),
                                  peak, shared, probabilities)


def upsample_to(cam: np.ndarray, size: tuple[int, int], preprocess: Preprocess) -> np.ndarray:
    """Map a CAM from the cropped model input back onto the whole image (undoing resize and crop)."""
    width, height = size
    left, top, right, bottom = crop_box(size, preprocess)
    heat = Image.fromarray(cam.astype(np.float32), mode="F")
    placed = heat.resize((max(1, round(right - left)), max(1, round(bottom - top))), Image.Resampling.BILINEAR)
    canvas = Image.new("F", (width, height), 0.0)
    canvas.paste(placed, (round(left), round(top)))
    return np.clip(np.asarray(canvas, dtype=np.float32), 0, 1)
