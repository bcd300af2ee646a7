"""Hidden units a saved model has lost: those whose weights have all gone to zero.

Adam with an L2 penalty (``weight_decay``) moves every weight about ``learning_rate`` a step
towards zero unless its loss gradient holds it back, so a ReLU unit that stops firing, or a
head whose loss is satisfied by a constant, ends with all its weights near zero. For each
linear layer followed by a ReLU this prints how many of its units have every incoming weight
and its bias below ``--tiny`` in magnitude, and for the consistency loss's projection
heads (the SimSiam-style ``projection`` and ``projection_predictor``) whether all of their
weights have: the consistency loss then compares two zero vectors, and neither it nor its
gradient is anything but zero.

    python -m benchmarks.dead_units D/Traffic-v0_seed0.zip [D/Traffic-v0_seed1.zip ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from torch import nn

from muzero_gym import MuZero

PROJECTION_HEADS = ("projection", "projection_predictor")


def _incoming(layer: nn.Module) -> torch.Tensor | None:
    """Per output unit, the largest incoming weight or bias of a linear layer, or of
    EntityMlpPolicy's context layer (its own map plus the map of the others' mean)."""
    parts = [layer] if isinstance(layer, nn.Linear) else []
    if not parts and all(isinstance(getattr(layer, n, None), nn.Linear) for n in ("own", "others")):
        parts = [layer.own, layer.others]  # type: ignore[list-item]
    if not parts:
        return None
    largest = [p.weight.detach().abs().amax(dim=1) for p in parts]
    largest += [p.bias.detach().abs() for p in parts if p.bias is not None]
    return torch.stack(largest).amax(dim=0)


def _hidden_layers(module: nn.Module, prefix: str) -> list[tuple[str, torch.Tensor]]:
    """Linear (or context) layers whose output goes through a ReLU next, in
    ``nn.Sequential`` order, each with its units' largest incoming weight."""
    found = []
    for name, child in module.named_children():
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(child, nn.Sequential):
            layers = list(child.named_children())
            for (first, a), (_, b) in zip(layers, layers[1:], strict=False):
                incoming = _incoming(a)
                if incoming is not None and isinstance(b, nn.ReLU):
                    found.append((f"{path}.{first}", incoming))
            found.extend(_hidden_layers(child, path))
    return found


def report(model: MuZero, tiny: float = 1e-6) -> dict[str, Any]:
    """``{"layers": {name: (zeroed units, units)}, "projection_zeroed": bool, ...}``."""
    policy = model.policy
    layers: dict[str, tuple[int, int]] = {}
    for name, incoming in _hidden_layers(policy, ""):
        layers[name] = (int((incoming < tiny).sum()), int(incoming.numel()))
    # MlpPolicy's dynamics adds the state and action embeddings before its ReLU.
    state_in = _incoming(getattr(policy, "dynamics_state_in", nn.Identity()))
    if state_in is not None:
        action_in = getattr(policy, "dynamics_action_in", None)
        if isinstance(action_in, nn.Embedding):
            state_in = torch.maximum(state_in, action_in.weight.detach().abs().amax(dim=0))
        layers["dynamics_state_in"] = (int((state_in < tiny).sum()), int(state_in.numel()))
    heads = [p for head in PROJECTION_HEADS for p in getattr(policy, head).parameters()]
    largest = max(float(p.detach().abs().max()) for p in heads)
    zeroed = sum(count for count, _ in layers.values())
    total = sum(units for _, units in layers.values())
    return {
        "layers": layers,
        "zeroed_units": zeroed,
        "hidden_units": total,
        "projection_largest_weight": largest,
        "projection_zeroed": largest < tiny,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--tiny", type=float, default=1e-6, help="a weight below this is zero")
    args = parser.parse_args(argv)
    for path in args.models:
        figures = report(MuZero.load(path, device="cpu"), args.tiny)
        print(f"{path}: {figures['zeroed_units']} of {figures['hidden_units']} hidden units "
              f"zeroed; consistency projection "
              f"{'ZEROED' if figures['projection_zeroed'] else 'alive'} "
              f"(largest weight {figures['projection_largest_weight']:.2e})")  # fmt: skip
        for name, (count, units) in figures["layers"].items():
            print(f"  {name:32s} {count:4d} / {units}")


if __name__ == "__main__":
    main()
