"""The inference API `acegit render` calls: requests -> final latents -> waveforms, deterministically."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from acegit.edits import EXTEND, REPAINT, Edit
from acegit.engine import audio, editing, sampling
from acegit.engine.checkpoint import load_checkpoint
from acegit.engine.conditioning import Conditions, melody_roll, parse_time_signature, single_conditions
from acegit.engine.config import ModelConfig
from acegit.engine.device import DTYPE, environment, resolve_device, set_deterministic
from acegit.engine.model import MusicModel
from acegit.engine.registry import DISTILLED_SAMPLER, ModelRef
from acegit.engine.request import GRIFFIN_LIM, NEURAL, VOCODERS, GenerationRequest, loop_bars
from acegit.engine.text import TextEncoder
from acegit.engine.vocoder import GriffinLim, Vocoder
from acegit.engine.vocos import NeuralVocoder
from acegit.errors import AcegitError

if TYPE_CHECKING:
    from acegit.engine.backend import StepProgress

LOOP_PAD = 4  # latent frames of wrap-around context on each side when decoding a loop (> the decoder's reach)
LOOP_FOLD_SECONDS = 0.05  # cross-fade that hides Griffin-Lim's phase seam at a loop's start


def _check(r: GenerationRequest, cfg: ModelConfig) -> None:
    r.check()
    if r.lyrics.strip():
        raise AcegitError("the built-in model cannot sing lyrics", hint="use a model with backend = 'ace-step'")
    if cfg.dit.guidance_embed and r.negative_prompt.strip():
        raise AcegitError(
            "negative_prompt: this model's weights distil guidance against the null prompt and cannot steer away "
            "from a negative prompt",
            hint="remove negative_prompt, or render with weights that guide in two branches",
        )
    sampling.get_sampler(r.sampler)
    n = cfg.sampling.steps
    if n and (r.steps != n or r.sampler != DISTILLED_SAMPLER):
        raise AcegitError(
            f"steps = {r.steps}, sampler = {r.sampler!r}: this model's weights are distilled for {n} Euler steps "
            "and render with no other",
            hint=f'set steps = {n} and sampler = "{DISTILLED_SAMPLER}" in the track or in acegit.toml [defaults]',
        )


def _vocoders(model: MusicModel) -> dict[str, Vocoder]:
    """The vocoders a model's weights offer: Griffin-Lim always, the neural one when the weights hold it."""
    found: dict[str, Vocoder] = {GRIFFIN_LIM: GriffinLim(model.cfg.audio)}
    if model.vocoder is not None:
        found[NEURAL] = NeuralVocoder(model.vocoder)
    default = model.cfg.vocoder.default
    if default not in found:
        raise AcegitError(
            f"model config names vocoder {default!r} as its default, but its weights offer {', '.join(found)}",
            hint="the checkpoint's config.json and weights do not belong together; rebuild the checkpoint",
        )
    return found


class Engine:
    """A loaded model on one device. generate() is deterministic per request: the result of a request never depends
    on the other requests in the call, the thread count, or the process."""

    def __init__(self, model: MusicModel, weights_hash: str, device: torch.device, vocoder: Vocoder | None = None):
        self.device = device
        set_deterministic(device)
        self.model = model.to(device=device, dtype=DTYPE).eval().requires_grad_(False)
        self.cfg = model.cfg
        self.weights_hash = weights_hash
        self._text: TextEncoder | None = None  # loaded on first use: decoding (diff, show, export) never needs it
        self.vocoders = _vocoders(self.model)
        if vocoder is not None:  # a caller's own vocoder replaces the model's default
            self.vocoders[self.cfg.vocoder.default] = vocoder
        self._text_cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @classmethod
    def load(
        cls, ref_or_path: ModelRef | Path | str, device: str | torch.device = "auto", decode_only: bool = False
    ) -> Engine:
        """Load a verified checkpoint folder (or a resolved ModelRef, whose hash must match too); `decode_only`:
        without the DiT (an engine that decodes and cannot sample: diff, show, export of a snapshot)."""
        dev = resolve_device(device)
        if isinstance(ref_or_path, ModelRef):
            if ref_or_path.backend != "builtin":
                raise AcegitError(f"model {ref_or_path.name!r} has backend {ref_or_path.backend!r}, not this engine")
            model, digest = load_checkpoint(ref_or_path.path, ref_or_path.weights_hash, decode_only=decode_only)
        else:
            model, digest = load_checkpoint(Path(ref_or_path), decode_only=decode_only)
        return cls(model, digest, dev)

    @property
    def text(self) -> TextEncoder:
        """The frozen sentence encoder (~90 MB of weights), loaded once per engine."""
        if self._text is None:
            self._text = TextEncoder(self.cfg.dit.text_tokens, self.device)
        return self._text

    @property
    def sample_rate(self) -> int:
        return self.cfg.audio.sample_rate

    @property
    def vocoder(self) -> Vocoder:
        """The model's default vocoder (what a track that names none decodes with)."""
        return self.vocoders[self.cfg.vocoder.default]

    def vocoder_for(self, name: str | None) -> Vocoder:
        """The vocoder a track names (None: the model's default); an error when these weights do not offer it."""
        if name is None:
            return self.vocoder
        if name not in VOCODERS:
            raise AcegitError(f"unknown vocoder {name!r}", hint=f"use one of: {', '.join(VOCODERS)}")
        if name not in self.vocoders:
            raise AcegitError(
                f"vocoder = {name!r}: these weights of model {self.cfg.name!r} hold no neural vocoder",
                hint=f'use vocoder = "{GRIFFIN_LIM}", or weights that include one (docs/model-card.md, "Vocoder")',
            )
        return self.vocoders[name]

    @property
    def latent_rate(self) -> float:
        return self.cfg.latent_rate

    def environment(self) -> dict[str, Any]:
        return environment(self.device)

    def latent_frames(self, duration: float) -> int:
        return self.cfg.latent_frames(round(duration * self.sample_rate))

    def _encode_text(self, prompt: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings and mask, computed once per distinct prompt (each prompt alone: no padding effects)."""
        if prompt not in self._text_cache:
            self._text_cache[prompt] = self.text.encode(prompt)
        return self._text_cache[prompt]

    def loop_frames(self, duration: float) -> int:
        """Latent frames of a seamless loop: one whole period, no centring frame."""
        return max(LOOP_PAD, round(duration * self.latent_rate))

    def frames(self, r: GenerationRequest) -> int:
        return self.loop_frames(r.duration) if r.loop else self.latent_frames(r.duration)

    def loop_bpm(self, r: GenerationRequest) -> float:
        """The tempo nearest the track's at which a whole number of bars fills the loop, so beat phase wraps."""
        if r.bpm <= 0:
            return r.bpm
        beats_per_bar = parse_time_signature(r.time_signature)[0] if r.time_signature else 4
        seconds = self.loop_frames(r.duration) / self.latent_rate  # the latent period
        return loop_bars(r.duration, r.bpm, beats_per_bar) * beats_per_bar * 60.0 / seconds

    def conditions(self, r: GenerationRequest) -> tuple[Conditions, Conditions]:
        """The conditional and the guidance conditions of one request, batch of one.

        Guidance contrasts against the negative prompt (or the null prompt) **without the key**: training drops the
        key on its own (10%), so the model knows the keyless branch, and guidance then strengthens the key as it
        strengthens the text. Measured with the same weights, key signature 52.5% -> 82.5% on the held-out set it was
        chosen on and 55% -> 65% on a fresh one (ceiling 67.5%). BPM, metre and melody stay in both branches: guiding
        them too raised tempo adherence but chopped the music into bars (docs/model-card.md, "Sampler").
        """
        frames = self.frames(r)
        bpm = self.loop_bpm(r) if r.loop else r.bpm
        melody = melody_roll(r.melody, frames, self.latent_rate) if r.melody is not None else None

        def make(prompt: str, key: str) -> Conditions:
            text, mask = self._encode_text(prompt)
            return single_conditions(
                text.cpu(),
                mask.cpu(),
                bpm=bpm,
                key=key,
                time_signature=r.time_signature,
                duration=r.duration,
                frames=frames,
                latent_rate=self.latent_rate,
                harmonics=self.cfg.dit.beat_harmonics,
                melody=melody,
            ).to(self.device)

        return make(r.prompt, r.key), make(r.negative_prompt, "")

    def initial_noise(self, r: GenerationRequest) -> torch.Tensor:
        """Standard normal (1, C, F, T) from the request's own CPU generator, then moved to the device."""
        gen = torch.Generator(device="cpu").manual_seed(r.seed & 0xFFFF_FFFF_FFFF_FFFF)
        c, f = self.cfg.dcae.latent_channels, self.cfg.audio.n_mels // self.cfg.dcae.downsample
        noise = torch.randn((1, c, f, self.frames(r)), generator=gen, dtype=torch.float32)
        return noise.to(self.device, DTYPE)

    def _shift(self, r: GenerationRequest) -> float:
        return self.cfg.sampling.shift if r.shift is None else r.shift

    def _edit_start(self, edit: Edit) -> float:
        """The noise level an edit re-noises to: 1 (pure noise) for new or fully repainted frames."""
        if edit.kind == EXTEND:
            return 1.0
        if edit.kind == REPAINT:
            return 1.0 if edit.strength is None else edit.strength
        return edit.amount or 0.0

    def _steps(self, r: GenerationRequest) -> int:
        """Sampler steps of a request: its base generation, then each edit's tail of the same schedule."""
        tails = [len(editing.schedule(r.steps, self._shift(r), s)) - 1 for s in map(self._edit_start, r.edits) if s > 0]
        return r.steps + sum(tails)

    def _denoise(
        self,
        r: GenerationRequest,
        x: torch.Tensor,
        sigmas: torch.Tensor,
        callback: Callable[[dict[str, Any]], None],
        wrap: Callable[[sampling.Model], sampling.Model] | None = None,
    ) -> torch.Tensor:
        """Run the request's sampler from `x` along `sigmas`, guided by its conditions (the normalised latent)."""
        cond, uncond = self.conditions(r)
        dit = functools.partial(self.model.dit, circular=True) if r.loop else self.model.dit
        interval = self.cfg.sampling.guidance_interval
        if self.cfg.dit.guidance_embed:
            denoiser = sampling.distilled(dit, r.guidance, interval)
        else:
            denoiser = sampling.guided(dit, r.guidance, interval, cat=Conditions.cat)
        if wrap is not None:
            denoiser = wrap(denoiser)
        extra = {"cond": cond, "uncond": uncond}
        return sampling.get_sampler(r.sampler)(denoiser, x, sigmas, extra_args=extra, callback=callback)

    def _edit(
        self, x0: torch.Tensor, r: GenerationRequest, edit: Edit, duration: float, callback: Callable[..., None]
    ) -> torch.Tensor:
        """Apply one edit to the normalised latent x0 (1, C, F, T) of the track as it stands at `duration` seconds.

        The edit samples with the track's settings, its own seed (the noise) and prompt (when it sets one), and the
        track's conditions at its new length (an extend conditions on the longer duration; beat phase continues,
        since the beat grid counts from the first frame)."""
        prompt = r.prompt if edit.prompt is None else edit.prompt
        er = dataclasses.replace(r, duration=edit.duration_after(duration), seed=edit.seed, prompt=prompt, edits=())
        frames, start = self.frames(er), self._edit_start(edit)
        if start == 0.0:
            return x0
        if edit.kind == EXTEND:
            kept = x0.shape[-1]
            x0 = torch.cat([x0, x0.new_zeros((*x0.shape[:-1], frames - kept))], dim=-1)
            mask = (torch.arange(frames) >= kept).float()
        elif edit.kind == REPAINT:
            first, last = editing.range_frames(edit.start or 0.0, edit.end or 0.0, frames, self.latent_rate)
            mask = editing.range_mask(frames, first, last)  # a loop's DiT sees around its seam
        else:
            mask = torch.ones(frames)
        mask = mask.to(self.device, DTYPE)
        noise = self.initial_noise(er)
        sigmas = editing.schedule(r.steps, self._shift(r), start)
        x = self._denoise(
            er, editing.renoise(x0, noise, start), sigmas, callback, lambda d: editing.inpaint(d, x0, noise, mask)
        )
        return editing.compose(x, x0, mask)

    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerationRequest], progress: StepProgress | None = None) -> list[np.ndarray]:
        """Final latents, float32 (C, F, T) each, in request order: the base generation, then each edit in order.

        Each request is sampled on its own (batch of one, fixed shapes), which is what makes a result independent of
        its neighbours in `requests`; the cond and guidance branches always run as the same fixed batch of two.
        """
        for r in requests:
            _check(r, self.cfg)
            self.vocoder_for(r.vocoder)  # refuse a vocoder these weights lack before sampling anything
        total, done = sum(self._steps(r) for r in requests), 0

        def step(info: dict[str, Any]) -> None:
            nonlocal done
            done += 1
            if progress is not None:
                progress(done, total)

        out = []
        for r in requests:
            sigmas = sampling.flow_sigmas(r.steps, self._shift(r))
            x = self._denoise(r, self.initial_noise(r), sigmas, step)
            duration = r.duration
            for edit in r.edits:
                x = self._edit(x, r, edit, duration, step)
                duration = edit.duration_after(duration)
            out.append(self.model.denormalize_latent(x)[0].float().cpu().numpy())
        return out

    @torch.inference_mode()
    def decode_mel(self, latent: np.ndarray) -> torch.Tensor:
        """Latent (C, F, T) -> magnitude mel (n_mels, 8T) on the device."""
        z = torch.from_numpy(np.ascontiguousarray(latent, dtype=np.float32))[None].to(self.device, DTYPE)
        return audio.denormalize_log_mel(self.model.dcae.decode(z)[0], self.cfg.audio)

    def decode(
        self, latent: np.ndarray, num_samples: int | None = None, loop: bool = False, vocoder: str | None = None
    ) -> np.ndarray:
        """Latent (C, F, T) -> mono float32 waveform at sample_rate; num_samples defaults to (T - 1) latent hops.

        loop=True decodes a loop latent as one period of a periodic signal (see decode_loop); vocoder names the
        track's vocoder (None: the model's default)."""
        expected = (self.cfg.dcae.latent_channels, self.cfg.audio.n_mels // self.cfg.dcae.downsample)
        if latent.ndim != 3 or tuple(latent.shape[:2]) != expected:
            raise AcegitError(f"latent has shape {tuple(latent.shape)}, expected {expected + ('T',)}")
        voc = self.vocoder_for(vocoder)
        if loop:
            return self.decode_loop(latent, num_samples, voc)
        hop = self.cfg.audio.hop_length * self.cfg.dcae.downsample
        n = num_samples if num_samples is not None else (latent.shape[-1] - 1) * hop
        with torch.inference_mode():
            wave = voc(self.decode_mel(latent), n)
        return wave.float().cpu().numpy()

    def decode_loop(self, latent: np.ndarray, num_samples: int | None = None, voc: Vocoder | None = None) -> np.ndarray:
        """One period of a loop: decode with wrap-around context, fold the phase seam, resample circularly.

        The latent is padded with LOOP_PAD frames from its other end on each side, so the decoder and the vocoder see
        the seam as an interior point (both are convolutional and reach less far); the period is cut from the middle,
        and the few milliseconds after its end (the natural continuation across the seam) are cross-faded over its
        start, where Griffin-Lim's phase differs (the neural vocoder's output already continues there, so the fold
        changes it only by rounding). num_samples (default: T latent hops) is reached by FFT resampling, exact for a
        periodic signal.
        """
        voc = voc or self.vocoder
        T = latent.shape[-1]
        hop = self.cfg.audio.hop_length * self.cfg.dcae.downsample
        padded = np.concatenate([latent[..., T - LOOP_PAD :], latent, latent[..., :LOOP_PAD]], axis=-1)
        with torch.inference_mode():
            wave = voc(self.decode_mel(padded), (T + 2 * LOOP_PAD) * hop).double().cpu().numpy()
        period = T * hop
        fold = min(round(LOOP_FOLD_SECONDS * self.sample_rate), period // 4)
        y = wave[LOOP_PAD * hop : LOOP_PAD * hop + period + fold].copy()
        ramp = (np.arange(fold) + 0.5) / fold  # 0 -> 1: starts as the continuation of the end, ends as the start
        y[:fold] = ramp * y[:fold] + (1 - ramp) * y[period : period + fold]
        y = y[:period]
        n = period if num_samples is None else num_samples
        if n != period:
            spec = np.fft.rfft(y)
            spec = np.concatenate([spec, np.zeros(n // 2 + 1 - spec.size)]) if n > period else spec[: n // 2 + 1]
            y = np.fft.irfft(spec, n=n) * (n / period)
        return y.astype(np.float32)
