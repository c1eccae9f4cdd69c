"""The neural vocoder: checkpoint round trip and hash, the determinism matrix, loop seams, the Griffin-Lim fallback."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from childproc import outputs_at_one_and_two_threads

from acegit.engine import audio
from acegit.engine.config import VocoderConfig, tiny
from acegit.engine.request import GenerationRequest
from acegit.errors import AcegitError

HERE = str(Path(__file__).parent)
# the shipped shape, narrower (fast tests), with its refinement: the determinism tests cover the refinement too
SMALL = VocoderConfig(default="neural", neural=True, dim=32, depth=2, refine_iterations=16)

REQ = GenerationRequest(
    prompt="warm electric piano",
    negative_prompt="",
    seed=5,
    duration=3.0,
    bpm=96.0,
    key="D minor",
    time_signature="4/4",
    steps=2,
    guidance=3.0,
    sampler="euler",
)


def _model(vocoder: VocoderConfig | None = SMALL):  # type: ignore[no-untyped-def]
    """A seeded random tiny model, with small non-zero values where training would have left zeros."""
    from acegit.engine.model import MusicModel

    cfg = tiny() if vocoder is None else dataclasses.replace(tiny(), vocoder=vocoder)
    torch.manual_seed(0)
    model = MusicModel(cfg)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if torch.all(p == 0) and p.ndim >= 1:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
    return model


@pytest.fixture(scope="module")
def neural_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from acegit.engine.checkpoint import save_checkpoint

    folder = tmp_path_factory.mktemp("tiny-neural")
    save_checkpoint(_model(), folder)
    return folder


@pytest.fixture(scope="module")
def neural_engine(neural_checkpoint: Path):  # type: ignore[no-untyped-def]
    from acegit.engine.inference import Engine

    return Engine.load(neural_checkpoint, device="cpu")


def _sha(a: np.ndarray | torch.Tensor) -> str:
    return hashlib.sha256(np.ascontiguousarray(np.asarray(a, dtype=np.float32)).tobytes()).hexdigest()


def _full_size():  # type: ignore[no-untyped-def]
    """The shipped vocoder's shape, seeded random weights: its tensors are big enough for ATen to split them
    between threads (the small engine's are not, for short clips)."""
    from acegit.engine.vocos import NeuralVocoder, Vocos

    torch.manual_seed(0)
    return NeuralVocoder(Vocos(VocoderConfig(neural=True, refine_iterations=16), tiny().audio))


def _mel(seconds: float = 1.3) -> torch.Tensor:
    t = torch.arange(int(seconds * 22050)) / 22050
    wave = 0.3 * torch.sin(2 * torch.pi * 220 * t) * torch.exp(-2 * t) + 0.05 * torch.sin(2 * torch.pi * 1870 * t)
    return audio.mel_spectrogram(wave, tiny().audio)


# --- checkpoint -------------------------------------------------------------------------------------------------


def test_checkpoint_round_trip_keeps_the_vocoder_and_its_weights_are_hashed(neural_checkpoint: Path, tmp_path) -> None:
    from acegit.engine.checkpoint import load_checkpoint, save_checkpoint
    from acegit.engine.registry import weights_hash_of

    model, digest = load_checkpoint(neural_checkpoint)
    assert model.vocoder is not None and model.cfg.vocoder == SMALL
    assert digest == weights_hash_of(neural_checkpoint)
    original = _model()
    for k, v in original.state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    # The same DCAE and DiT without the vocoder hash differently: the vocoder is part of the weights hash.
    plain = _model(None)
    assert save_checkpoint(plain, tmp_path / "plain") != digest
    # ... and so do different vocoder weights with everything else the same.
    with torch.no_grad():
        original.vocoder.head.bias.add_(1e-3)
    assert save_checkpoint(original, tmp_path / "changed") != digest


def test_a_tampered_vocoder_tensor_fails_the_hash_check(neural_checkpoint: Path, tmp_path) -> None:
    import shutil

    from acegit.engine.checkpoint import load_checkpoint

    folder = tmp_path / "tampered"
    shutil.copytree(neural_checkpoint, folder)
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-5] ^= 0x01  # the last tensor in the file (sorted names: vocoder.* come last)
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(AcegitError, match="damaged"):
        load_checkpoint(folder)


def test_a_config_that_promises_a_vocoder_the_weights_lack_is_refused(tmp_path) -> None:
    from safetensors.torch import save as save_safetensors

    from acegit.engine.checkpoint import load_checkpoint, weights_hash

    model = _model(None)
    weights = save_safetensors({k: v.contiguous() for k, v in model.state_dict().items()})
    config = dataclasses.replace(model.cfg, vocoder=SMALL).to_json().encode()
    (tmp_path / "model.safetensors").write_bytes(weights)
    (tmp_path / "config.json").write_bytes(config)
    (tmp_path / "sha256").write_text(weights_hash(weights, config) + "\n")
    with pytest.raises(AcegitError, match="does not match its config"):
        load_checkpoint(tmp_path)


def test_a_default_the_weights_cannot_honour_is_refused_at_load() -> None:
    from acegit.engine.inference import Engine

    cfg_only = _model(VocoderConfig(default="neural", neural=False))
    with pytest.raises(AcegitError, match="default"):
        Engine(cfg_only, "sha256:" + "0" * 64, torch.device("cpu"))


# --- determinism ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [1.3, 11.7])
def test_vocoder_is_deterministic_and_thread_count_invariant(neural_engine, seconds: float) -> None:  # type: ignore[no-untyped-def]
    mel, n = _mel(seconds), int(seconds * 22050)
    for voc in (neural_engine.vocoders["neural"], _full_size()):
        before = torch.get_num_threads()
        try:
            torch.set_num_threads(1)
            one = voc(mel, n)
            torch.set_num_threads(2)
            two = voc(mel, n)
            torch.set_num_threads(7)  # uneven shares: ATen's scalar tail code runs inside each thread's share
            three = voc(mel, n)
        finally:
            torch.set_num_threads(before)
        assert one.shape == (n,) and one.dtype == torch.float32 and one.abs().max() > 0
        assert torch.equal(one, two) and torch.equal(one, three) and torch.equal(one, voc(mel, n))


@pytest.mark.parametrize("frames", [3, 37, 129, 1000])
def test_frames_decode_alone_as_inside_a_batch(neural_engine, frames: int) -> None:  # type: ignore[no-untyped-def]
    """Every frame's output depends on its neighbours only: the net gives the same bits in a batch of two."""
    net = neural_engine.model.vocoder
    x = torch.randn(2, 128, frames, generator=torch.Generator().manual_seed(frames))
    with torch.inference_mode():
        batch = net(x)
        alone = net(x[1:])
    assert torch.equal(batch[1], alone[0])


def test_render_decodes_the_same_alone_or_batched(neural_engine) -> None:  # type: ignore[no-untyped-def]
    alone = neural_engine.generate([REQ])[0]
    batch = neural_engine.generate([dataclasses.replace(REQ, seed=9, duration=2.0), REQ])
    assert np.array_equal(batch[1], alone)
    assert neural_engine.decode(batch[1]).tobytes() == neural_engine.decode(alone).tobytes()


_CHILD = """
import hashlib, sys, numpy as np, torch
from acegit.engine.inference import Engine
from acegit.engine.request import GenerationRequest
torch.set_num_threads(int(sys.argv[2]))
engine = Engine.load(sys.argv[1], device="cpu")
latent = engine.generate([GenerationRequest(**eval(sys.argv[3]))])[0]
sys.path.insert(0, sys.argv[4])
from test_vocos import _full_size, _mel
print(hashlib.sha256(engine.decode(latent).tobytes()).hexdigest(),
      hashlib.sha256(engine.decode(latent, loop=True).tobytes()).hexdigest(),
      hashlib.sha256(_full_size()(_mel(11.7), 258000).numpy().tobytes()).hexdigest())
"""


def test_two_processes_at_one_and_two_threads_decode_the_same_bits(neural_engine, neural_checkpoint: Path) -> None:  # type: ignore[no-untyped-def]
    outs = outputs_at_one_and_two_threads(_CHILD, str(neural_checkpoint), repr(dataclasses.asdict(REQ)), HERE)
    latent = neural_engine.generate([REQ])[0]
    full = _sha(_full_size()(_mel(11.7), 258000))
    here = f"{_sha(neural_engine.decode(latent))} {_sha(neural_engine.decode(latent, loop=True))} {full}"
    assert outs == {here}


# --- loops and the fallback -----------------------------------------------------------------------------------


def test_loop_decodes_seamlessly_with_the_neural_vocoder(neural_engine) -> None:  # type: ignore[no-untyped-def]
    from acegit.loopseam import seam_report

    r = dataclasses.replace(REQ, loop=True, duration=5.0, bpm=96.0)
    latent = neural_engine.generate([r])[0]
    sr = neural_engine.sample_rate
    looped = neural_engine.decode(latent, loop=True)
    assert looped.shape == (latent.shape[-1] * 2048,)
    report = seam_report(looped, sr)
    assert report.seamless
    assert report.flux_db < seam_report(neural_engine.decode(latent, latent.shape[-1] * 2048), sr).flux_db
    # Decoded as a loop, the output continues across the seam: the two ends of the period join like any interior
    # pair of neighbouring samples.
    jump = abs(float(looped[0]) - float(looped[-1]))
    assert jump <= 4 * float(np.percentile(np.abs(np.diff(looped)), 99)) + 1e-6


def test_griffin_lim_stays_selectable_and_is_griffin_lim(neural_engine) -> None:  # type: ignore[no-untyped-def]
    from acegit.engine.vocoder import GriffinLim

    latent = neural_engine.generate([REQ])[0]
    mel = neural_engine.decode_mel(latent)
    n = (latent.shape[-1] - 1) * 2048
    gl = neural_engine.decode(latent, vocoder="griffin-lim")
    assert np.array_equal(gl, GriffinLim(neural_engine.cfg.audio)(mel, n).numpy())
    neural = neural_engine.decode(latent, vocoder="neural")
    assert np.array_equal(neural, neural_engine.decode(latent))  # this checkpoint's default
    assert not np.array_equal(neural, gl)


def test_weights_without_a_neural_vocoder_refuse_it_before_sampling(tiny_engine) -> None:  # type: ignore[no-untyped-def]
    assert set(tiny_engine.vocoders) == {"griffin-lim"}
    with pytest.raises(AcegitError, match="hold no neural vocoder") as e:
        tiny_engine.generate([dataclasses.replace(REQ, vocoder="neural")])
    assert "griffin-lim" in (e.value.hint or "")
    with pytest.raises(AcegitError, match="unknown vocoder"):
        tiny_engine.decode(tiny_engine.generate([REQ])[0], vocoder="hifigan")


def test_refinement_pulls_the_output_to_the_mel_and_keeps_its_length() -> None:
    """Griffin-Lim round trips from the network's output bring the re-analysed mel of the output nearer the input
    mel, from what the network drew (here random weights, far from it); with none, the network's inverse STFT."""
    from acegit.engine.vocoder import FrameSTFT
    from acegit.engine.vocos import NeuralVocoder

    net = _full_size().net
    cfg = tiny().audio
    mel, n = _mel(2.0), 44100
    target = audio.normalize_log_mel(mel, cfg)
    distances = []
    for iterations in (0, 2, 8):
        out = NeuralVocoder(net, refine_iterations=iterations)(mel, n)
        assert out.shape == (n,) and torch.isfinite(out).all()
        distances.append(float((audio.log_mel(out, cfg) - target).abs().mean()))
    assert distances[1] < 0.2 * distances[0] and distances[2] < distances[1]
    with torch.no_grad():
        spec = net(audio.normalize_log_mel(mel, cfg)[None])[0]
    plain = FrameSTFT(cfg, spec.shape[0], torch.float32, spec.device).inverse(spec, n)
    assert torch.equal(NeuralVocoder(net, refine_iterations=0)(mel, n), plain)


def test_linear_rows_do_not_depend_on_how_many_there_are_or_their_layout() -> None:
    """1-3 rows go through other MKL kernels on AMD, and a 3-D input through product-then-bias: neither may show."""
    from acegit.engine.vocos import Linear

    torch.manual_seed(0)
    layer = Linear(96, 160)
    x = torch.randn(2, 7, 96, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        whole = layer(x)
        for rows in range(1, 7):
            assert torch.equal(layer(x[1, :rows]), whole[1, :rows])
            assert torch.equal(layer(x[1:, :rows]), whole[1:, :rows])
        strided = x.transpose(0, 1).contiguous().transpose(0, 1)  # the same values, another memory layout
        assert torch.equal(layer(strided), whole)
