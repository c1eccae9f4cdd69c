"""The ACE-Step 1.5 backend: diffusers' AceStepPipeline, loaded from a local folder, behind the built-in Engine's API.

Deterministic the same way as the built-in engine (docs/backends.md): every request is sampled alone (a batch of
one) from its own CPU-drawn initial latents, with deterministic algorithms, TF32 off and float32 throughout.
Imported only when a track's model has the ace-step backend: diffusers and transformers never load otherwise.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from acegit.engine.device import DTYPE, environment, resolve_device, set_deterministic
from acegit.engine.registry import ACE_STEP_OBTAIN, ModelRef
from acegit.engine.request import GenerationRequest
from acegit.errors import AcegitError

if TYPE_CHECKING:
    from acegit.engine.backend import StepProgress


DEFAULT_SHIFT = 3.0  # AceStepPipeline's default timestep shift, used when a track sets none
# ACE-Step's metadata names a time signature by its beats per bar.
BEATS_OF_METRE = {"2/4": "2", "3/4": "3", "4/4": "4", "6/8": "6"}
PEAK_DBFS = -1.0  # the pipeline's own output normalisation, per track
INSTALL_HINT = "Install the optional backend: pip install 'acegit[ace-step]' (docs/backends.md)."


def _check(r: GenerationRequest) -> None:
    """What the pipeline cannot honour is an error, never silently ignored (track parsing catches these first)."""
    r.check()
    if r.sampler != "euler":
        raise AcegitError(f"the ace-step backend samples with Euler only, not {r.sampler!r}")
    if r.negative_prompt.strip():
        raise AcegitError("the ace-step backend has no negative prompt (it guides against a learned null condition)")
    if r.melody is not None:
        raise AcegitError("the ace-step backend takes no melody")
    if r.edits:
        raise AcegitError("the ace-step backend does not apply edits (repaint, extend, vary): docs/edits.md")
    if r.vocoder is not None:
        raise AcegitError("the ace-step backend decodes with its own VAE; a vocoder is for the built-in model")
    if r.time_signature and r.time_signature not in BEATS_OF_METRE:
        raise AcegitError(f"time signature {r.time_signature!r} is not one of {', '.join(BEATS_OF_METRE)}")


def _quiet_diffusers() -> None:
    """The CLI draws its own progress; diffusers' and transformers' bars and load notices would interleave with it."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    dlog.set_verbosity_error()
    dlog.disable_progress_bar()
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()


def load_pipeline(folder: Path, device: torch.device) -> Any:
    """AceStepPipeline from a local folder only (local_files_only: nothing is ever downloaded), float32, on device."""
    try:
        from diffusers import AceStepPipeline
    except ImportError as e:
        raise AcegitError(
            f"the ace-step backend needs diffusers, which is not installed ({e})", hint=INSTALL_HINT
        ) from None
    _quiet_diffusers()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch's weight_norm deprecation inside the VAE
            pipe = AceStepPipeline.from_pretrained(folder, local_files_only=True, use_safetensors=True, dtype=DTYPE)
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as e:  # unreadable or mismatched files
        raise AcegitError(f"cannot load the ACE-Step pipeline from {folder}: {e}", hint=ACE_STEP_OBTAIN) from None
    if getattr(pipe.scheduler.config, "stochastic_sampling", False):
        # The pipeline passes no generator to scheduler.step, so its noise would come from torch's global RNG.
        raise AcegitError(
            f"{folder / 'scheduler' / 'scheduler_config.json'} sets stochastic_sampling = true, which draws noise "
            "outside acegit's per-track generator",
            hint='Set "stochastic_sampling": false in that file (ACE-Step samples with deterministic Euler steps).',
        )
    pipe = pipe.to(device=device, dtype=DTYPE)
    pipe.set_progress_bar_config(disable=True)
    for module in (pipe.transformer, pipe.condition_encoder, pipe.text_encoder, pipe.vae):
        module.eval().requires_grad_(False)
    return pipe


class AceStepEngine:
    """ACE-Step 1.5 on one device, with the built-in Engine's interface (load, generate, decode, environment).

    Latents are (C, T): C = the VAE's latent channels (64 for ACE-Step 1.5), T = ceil(duration × 25 Hz).
    """

    def __init__(self, pipe: Any, weights_hash: str, device: torch.device) -> None:
        self.device = device
        set_deterministic(device)
        self.pipe = pipe
        self.weights_hash = weights_hash
        self.channels = int(pipe.transformer.config.audio_acoustic_hidden_dim)

    @classmethod
    def load(cls, ref: ModelRef, device: str | torch.device = "auto") -> AceStepEngine:
        """Load a resolved ace-step model; its weights hash was computed from these very files by the registry."""
        dev = resolve_device(device)
        set_deterministic(dev)  # before any kernel runs, as cuBLAS reads its workspace setting once
        return cls(load_pipeline(ref.path, dev), ref.weights_hash, dev)

    @property
    def sample_rate(self) -> int:
        return int(self.pipe.sample_rate)

    @property
    def latent_rate(self) -> float:
        return float(self.pipe.latents_per_second)

    def environment(self) -> dict[str, Any]:
        return environment(self.device)

    def latent_frames(self, duration: float) -> int:
        return math.ceil(duration * self.latent_rate)  # what the pipeline itself allocates

    def initial_noise(self, r: GenerationRequest) -> torch.Tensor:
        """Standard normal (1, T, C) from the request's own CPU generator, then moved to the device."""
        gen = torch.Generator(device="cpu").manual_seed(r.seed & 0xFFFF_FFFF_FFFF_FFFF)
        noise = torch.randn((1, self.latent_frames(r.duration), self.channels), generator=gen, dtype=torch.float32)
        return noise.to(self.device, DTYPE)

    def _sample(self, r: GenerationRequest, on_step: Callable[[int], None]) -> np.ndarray:
        """One request as a batch of one: the pipeline pads prompts to the longest in a batch and its DiT attends
        to that padding (no encoder mask), so batching would let neighbours change each other's music."""

        def step_end(pipe: Any, i: int, t: float, kwargs: dict[str, Any]) -> dict[str, Any]:
            on_step(i)
            return {}

        out = self.pipe(
            prompt=r.prompt,
            lyrics=r.lyrics,
            audio_duration=r.duration,
            num_inference_steps=r.steps,
            guidance_scale=r.guidance,
            shift=DEFAULT_SHIFT if r.shift is None else r.shift,
            latents=self.initial_noise(r),
            bpm=round(r.bpm) if r.bpm > 0 else None,
            keyscale=r.key or None,
            timesignature=BEATS_OF_METRE.get(r.time_signature),
            output_type="latent",
            callback_on_step_end=step_end,
        ).audios  # (1, T, C)
        return out[0].transpose(0, 1).float().cpu().numpy()  # (C, T)

    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerationRequest], progress: StepProgress | None = None) -> list[np.ndarray]:
        """Final latents, float32 (C, T) each, in request order; each request is sampled alone, so a result never
        depends on the others."""
        for r in requests:
            _check(r)
        total, done = sum(r.steps for r in requests), 0
        out = []
        for r in requests:

            def on_step(i: int, base: int = done) -> None:
                if progress is not None:
                    progress(base + i + 1, total)

            out.append(self._sample(r, on_step))
            done += r.steps
        return out

    def decode(
        self, latent: np.ndarray, num_samples: int | None = None, loop: bool = False, vocoder: str | None = None
    ) -> np.ndarray:
        """Latent (C, T) -> mono float32 waveform at sample_rate, peak-normalised per track as the pipeline does.

        `loop` is accepted for the built-in engine's interface: the VAE decodes a loop like any track, and the
        export stage makes its seam (docs/backends.md). A vocoder is the built-in model's: refused here."""
        if vocoder is not None:
            raise AcegitError(f"vocoder = {vocoder!r}: the ace-step backend decodes with its own VAE")
        if latent.ndim != 2 or latent.shape[0] != self.channels:
            raise AcegitError(f"latent has shape {tuple(latent.shape)}, expected ({self.channels}, T)")
        z = torch.from_numpy(np.ascontiguousarray(latent, dtype=np.float32))[None].to(self.device, DTYPE)
        with torch.inference_mode():
            audio = self.pipe.vae.decode(z).sample[0].float()  # (channels, samples), stereo for ACE-Step
            # The pipeline's two-stage normalisation, per track (never across a batch): anti-clip, then -1 dBFS.
            audio = audio / audio.abs().amax().clamp(min=1.0)
            audio = audio * (10.0 ** (PEAK_DBFS / 20.0) / audio.abs().amax().clamp(min=1e-6))
            wave = audio.mean(dim=0).cpu().numpy()  # mono: the render pipeline and lock statistics are mono
        n = num_samples if num_samples is not None else wave.shape[0]
        return np.pad(wave[:n], (0, max(0, n - wave.shape[0]))).astype(np.float32)


def build_tiny(folder: Path, seed: int = 0, latent_channels: int = 8) -> Path:
    """Save a tiny, randomly initialised AceStepPipeline (every component, a locally trained tokenizer) to `folder`.

    For tests and benchmarks only: it makes noise, but exercises the real loading, sampling and decoding code.
    """
    from diffusers import (
        AceStepPipeline,
        AceStepTransformer1DModel,
        AutoencoderOobleck,
        FlowMatchEulerDiscreteScheduler,
    )
    from diffusers.pipelines.ace_step.modeling_ace_step import AceStepConditionEncoder
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

    _quiet_diffusers()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = ["# Instruction\nFill the audio semantic mask", "# Caption\ncalm piano", "- bpm: 120\n- keyscale: A minor"]
    tok.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")

    d, width = latent_channels, 32  # latent channels; hidden size of every transformer
    attn: dict[str, Any] = {"num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16}
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.manual_seed(seed)
        text_encoder = Qwen3Model(
            Qwen3Config(
                vocab_size=len(tokenizer),
                hidden_size=width,
                intermediate_size=2 * width,
                num_hidden_layers=1,
                max_position_embeddings=4096,
                **attn,
            )
        )
        transformer = AceStepTransformer1DModel(
            hidden_size=width,
            intermediate_size=2 * width,
            num_hidden_layers=2,
            in_channels=3 * d,  # noisy latent + source latent + chunk mask
            audio_acoustic_hidden_dim=d,
            sliding_window=16,
            **attn,
        )
        condition_encoder = AceStepConditionEncoder(
            hidden_size=width,
            intermediate_size=2 * width,
            text_hidden_dim=width,
            timbre_hidden_dim=d,
            num_lyric_encoder_hidden_layers=1,
            num_timbre_encoder_hidden_layers=1,
            sliding_window=16,
            **attn,
        )
        # 4.8 kHz stereo, hop 192: ACE-Step's 25 latent frames per second at a tenth of its sample rate.
        vae = AutoencoderOobleck(
            encoder_hidden_size=4,
            downsampling_ratios=[2, 4, 4, 6],
            channel_multiples=[1, 1, 1, 1],
            decoder_channels=4,
            decoder_input_channels=d,
            audio_channels=2,
            sampling_rate=4800,
        )
        pipe: Any = AceStepPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            transformer=transformer,
            condition_encoder=condition_encoder,
            scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0),
        )
        pipe.save_pretrained(folder, safe_serialization=True)
    return folder
