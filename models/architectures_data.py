"""Writes ``resources/architectures.json.gz``: the ``architecture`` description of every registry variant
at its default input size, so the app draws and compares any two variants with no export (and without
torch). ``python -m resnet_studio.models.architectures_data``; a test checks the file against
``describe()``."""

from __future__ import annotations

import gzip
import json
import sys
from importlib import resources

from resnet_studio.core.local_file import write_bytes_atomic

from .registry import VARIANTS, build_model
from .structure import describe


def current() -> dict[str, dict]:
    return {name: describe(build_model(name), variant.input_size, variant=name) for name, variant in VARIANTS.items()}


def main() -> int:
    target = resources.files("resnet_studio.resources").joinpath("architectures.json.gz")
    # mtime=0: the same registry writes the same bytes.
    write_bytes_atomic(str(target), gzip.compress(json.dumps(current(), sort_keys=True).encode(), mtime=0))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
