"""What one render asks of the engine (no torch: the CLI and the render planner build these)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from acegit.edits import Edit
from acegit.errors import AcegitError

MAX_DURATION = 600.0  # seconds; longer requests are refused rather than exhausting memory
GRIFFIN_LIM, NEURAL = "griffin-lim", "neural"  # the built-in model's vocoders (acegit/engine/vocoder.py, vocos.py)
VOCODERS = (GRIFFIN_LIM, NEURAL)


def loop_bars(duration: float, bpm: float, beats_per_bar: int) -> int:
    """The whole bars a loop renders as: the number its duration holds at its BPM, rounded half up, at least one."""
    return max(1, math.floor(duration * bpm / 60.0 / beats_per_bar + 0.5))


@dataclass(frozen=True)
class GenerationRequest:
    """One track to generate. Every field takes part in the result; the engine adds nothing hidden."""

    prompt: str  # text description; "" is the null prompt
    negative_prompt: str  # what guidance steers away from; "" contrasts against the null prompt
    seed: int  # seeds the per-request CPU generator of the initial noise
    duration: float  # seconds
    bpm: float  # beats per minute; <= 0 means not given
    key: str  # canonical key name, e.g. "A minor"; "" means not given
    time_signature: str  # "4/4", "3/4", "6/8", …; "" means not given
    steps: int  # sampler steps
    guidance: float  # classifier-free guidance scale; 1.0 means none
    sampler: str  # "euler" | "heun"
    melody: Path | None = None  # absolute path to a .mid file, or None
    loop: bool = False  # seamless loop (accepted; the export stage handles loop points)
    lyrics: str = ""  # sung words: ace-step backend only; the built-in model refuses non-empty lyrics
    shift: float | None = None  # timestep-schedule shift; None means the model's own default
    edits: tuple[Edit, ...] = ()  # applied in order to the generated latent (acegit/edits.py); built-in engine only
    vocoder: str | None = None  # "griffin-lim" | "neural" (built-in model only); None means the model's own default

    def check(self) -> None:
        """The limits every engine shares; an engine adds what it alone cannot honour (track parsing checks first)."""
        if not 0 < self.duration <= MAX_DURATION:
            raise AcegitError(f"duration must be in (0, {MAX_DURATION:g}] seconds, got {self.duration}")
        if self.steps < 1:
            raise AcegitError(f"steps must be at least 1, got {self.steps}")
        if self.guidance < 0:
            raise AcegitError(f"guidance must be >= 0, got {self.guidance}")
        if self.shift is not None and self.shift <= 0:
            raise AcegitError(f"shift must be > 0, got {self.shift}")
