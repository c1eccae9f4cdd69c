"""Ship a trained vocoder run as part of a built-in model's weights:
`python -m model.ship_vocoder --run runs/vocoder/ckpt --into model/weights/tiny --refine 16`.

The vocoder run's checkpoint is a whole model (train_vocoder trains the vocoder inside a frozen copy of the shipped
model); this checks that its DCAE and DiT are bit for bit the ones in --into, makes the neural vocoder the default with
--refine Griffin-Lim iterations after it, and writes --into atomically in acegit's format (safetensors + config +
sha256). The weights hash changes, so every track rendered with the old weights reads "model changed". Run it only
after the vocoder passed the model card's gate (docs/model-card.md, "Vocoder").
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import torch

from acegit.engine.checkpoint import load_checkpoint, save_checkpoint
from acegit.errors import AcegitError


def ship(run: Path, into: Path, refine: int) -> str:
    """Write the run's model, with its vocoder as the default, into the weights folder `into`; returns the new hash."""
    trained, _ = load_checkpoint(run)
    shipped, _ = load_checkpoint(into)
    if trained.vocoder is None:
        raise AcegitError(f"{run} holds no neural vocoder", hint="point --run at a model.train_vocoder checkpoint")
    same_shape = dataclasses.replace(trained.cfg, vocoder=shipped.cfg.vocoder) == shipped.cfg  # else keys differ
    theirs, ours = trained.state_dict(), shipped.state_dict()
    changed = [
        k for k, v in ours.items() if same_shape and not k.startswith("vocoder.") and not torch.equal(theirs[k], v)
    ]
    if changed or not same_shape:
        raise AcegitError(
            f"{run} was not trained on the model in {into}: {len(changed)} DCAE/DiT tensors or its config differ",
            hint="train the vocoder with --init pointing at the weights it will ship in",
        )
    vocoder = dataclasses.replace(trained.cfg.vocoder, default="neural", refine_iterations=refine)
    trained.cfg = dataclasses.replace(trained.cfg, vocoder=vocoder)
    return save_checkpoint(trained, into)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, default=Path("runs/vocoder/ckpt"), help="the vocoder run's checkpoint")
    p.add_argument("--into", type=Path, default=Path("model/weights/tiny"), help="the weights folder to ship it in")
    p.add_argument("--refine", type=int, required=True, help="Griffin-Lim iterations after the network (0: none)")
    a = p.parse_args(argv)
    print(ship(a.run, a.into, a.refine))


if __name__ == "__main__":
    main()
