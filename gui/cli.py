"""``resnet-studio``: the app's command line. Subcommands load only what they need.

``train`` imports torch; nothing else here does, so the app process stays torch-free.
"""

from __future__ import annotations

import sys

USAGE = """usage: resnet-studio COMMAND [ARGS]

commands:
  train VARIANT [...]   train on Fashion-MNIST, or fine-tune on a folder (--data DIR)

Run 'resnet-studio COMMAND --help' for a command's options."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:
        try:
            from resnet_studio.models.train import main as train_main
        except ImportError as exc:
            print(f"resnet-studio train needs PyTorch ({exc.name} is missing): pip install 'torch>=2.10'",
                  file=sys.stderr)
            return 2
        return train_main(argv[1:])
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
