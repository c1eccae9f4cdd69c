"""A few steps of each training recipe on a few synthesised clips: they run, checkpoint, resume and load."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_training_recipes_smoke(tmp_path: Path) -> None:
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth3 not installed")
    from model.corpus.synth import SynthUnavailable, find_soundfont

    try:
        find_soundfont("TimGM6mb.sf2")
    except SynthUnavailable as e:
        pytest.skip(str(e))
    from acegit.engine.checkpoint import load_checkpoint
    from model import train_dit

    result = train_dit.main(["--smoke", "--run", str(tmp_path / "dit"), "--threads", "1"])
    assert result["first"]["step"] == 2 and result["step"] == 3  # the second run resumed the first
    model, digest = load_checkpoint(tmp_path / "dit" / "ckpt")  # verifies the sha256 file
    assert digest == result["hash"]
    assert model.cfg.dcae.latent_std > 0
    assert (tmp_path / "dit" / "log.jsonl").read_text().count("\n") == 3


def test_vocoder_recipe_smoke(tmp_path: Path) -> None:
    """Two steps, then a resumed third, on the smoke corpus: the checkpoint is a whole model with a neural vocoder."""
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth3 not installed")
    from model.corpus.synth import SynthUnavailable, find_soundfont

    try:
        find_soundfont("TimGM6mb.sf2")
    except SynthUnavailable as e:
        pytest.skip(str(e))
    import torch

    from acegit.engine.checkpoint import load_checkpoint
    from model import train_vocoder

    result = train_vocoder.main(["--smoke", "--run", str(tmp_path / "voc"), "--threads", "1"])
    assert result["first"]["step"] == 2 and result["step"] == 3
    model, digest = load_checkpoint(tmp_path / "voc" / "ckpt")
    assert digest == result["hash"] != result["first"]["hash"]  # the vocoder's weights changed, and so did the hash
    assert model.vocoder is not None and model.cfg.vocoder.neural and model.cfg.vocoder.default == "griffin-lim"
    shipped, _ = load_checkpoint(Path(__file__).parents[2] / "model" / "weights" / "tiny")
    for k, v in shipped.state_dict().items():  # the DCAE and DiT stayed frozen (the shipped vocoder is replaced)
        if k.startswith("vocoder."):
            continue
        assert torch.equal(model.state_dict()[k], v), k
    assert (tmp_path / "voc" / "log.jsonl").read_text().count("\n") == 3


def test_student_recipe_smoke(tmp_path: Path) -> None:
    """Two steps on the teacher's own trajectories, then a resumed third: a whole model whose DiT takes the guidance
    scale, the teacher's DCAE and vocoder unchanged, and a run refuses another teacher."""
    import torch

    from acegit.engine.checkpoint import load_checkpoint
    from model import train_student

    teacher_dir = Path(__file__).parents[2] / "model" / "weights" / "tiny"
    result = train_student.main(["--smoke", "--run", str(tmp_path / "st"), "--threads", "1"])
    assert result["first"]["step"] == 2 and result["step"] == 3
    assert 0 < result["relative_error"] < 1  # it fits the guided velocity somewhat from the first steps
    model, digest = load_checkpoint(tmp_path / "st" / "ckpt")
    assert digest == result["hash"] != result["first"]["hash"]
    assert model.cfg.dit.guidance_embed and model.dit.g_embed is not None
    teacher, _ = load_checkpoint(teacher_dir)
    assert not teacher.cfg.dit.guidance_embed
    for k, v in teacher.state_dict().items():
        if not k.startswith("dit."):
            assert torch.equal(model.state_dict()[k], v), k  # DCAE and vocoder: the teacher's
    assert (tmp_path / "st" / "log.jsonl").read_text().count("\n") == 3
    with pytest.raises(SystemExit, match="already a guidance-distilled student"):
        train_student.main(["--smoke", "--teacher", str(tmp_path / "st" / "ckpt"), "--run", str(tmp_path / "x")])
    # a few-step student starts from that one (--init), and only from a guidance-distilled student of the teacher
    init = ["--init", str(tmp_path / "st" / "ckpt"), "--run", str(tmp_path / "turbo"), "--threads", "1"]
    turbo = train_student.main(["--smoke", "--jump", "2", *init])
    assert turbo["first"]["step"] == 2 and turbo["step"] == 3
    assert load_checkpoint(Path(turbo["run"]) / "ckpt")[0].cfg.sampling.steps == 2  # 4 teacher steps, jump 2
    with pytest.raises(SystemExit, match="not a guidance-distilled student"):
        train_student.main(["--smoke", "--init", str(teacher_dir), "--run", str(tmp_path / "y")])
    with pytest.raises(SystemExit, match="multiple of --jump 3"):
        train_student.main(["--jump", "3", "--sample-steps", "20", "--run", str(tmp_path / "z")])
    with pytest.raises(SystemExit, match="one step count"):
        train_student.main(["--jump", "2", "--sample-steps", "20", "10", "--run", str(tmp_path / "z")])


def test_a_student_step_lands_where_the_teachers_jump_did() -> None:
    """`--jump K`: a pair's target is the secant over K teacher steps, at every K-th level of the teacher's schedule,
    which is the schedule of steps / K; so Euler steps of the targets retrace the teacher's trajectory."""
    import random

    import torch

    from acegit.engine.inference import Engine
    from acegit.engine.sampling import flow_sigmas
    from model import train_student

    teacher = Engine.load(Path(__file__).parents[2] / "model" / "weights" / "tiny", device="cpu")
    argv = ["--jump", "2", "--sample-steps", "6", "--durations", "2", "--batch", "1", "--loop-share", "0"]
    pool = train_student.teacher_round(teacher, random.Random(3), train_student.parser().parse_args(argv))
    sigmas = flow_sigmas(3, teacher.cfg.sampling.shift)
    assert len(pool.x) == 3 and pool.trajectory == [0, 0, 0]
    for i in range(3):
        torch.testing.assert_close(pool.sigma[i], sigmas[i : i + 1], rtol=0, atol=1e-7)
    for i in range(2):
        torch.testing.assert_close(pool.x[i] + (sigmas[i + 1] - sigmas[i]) * pool.target[i], pool.x[i + 1])
    assert not torch.allclose(pool.target[0], pool.target[1])  # the velocity changes along the path


def test_transcriber_recipe_smoke(tmp_path: Path) -> None:
    """model/train_transcriber.py: two steps, a checkpoint in acegit's format, then a resumed third step."""
    pytest.importorskip("fluidsynth", reason="pyfluidsynth / libfluidsynth3 not installed")
    from model.corpus.synth import SynthUnavailable, find_soundfont

    try:
        find_soundfont("TimGM6mb.sf2")
    except SynthUnavailable as e:
        pytest.skip(str(e))
    from acegit.engine.transcriber import load_transcriber
    from model import train_transcriber

    result = train_transcriber.main(["--smoke", "--run", str(tmp_path / "tr"), "--threads", "1"])
    assert result["first"]["step"] == 2 and result["step"] == 3  # the second run resumed the first
    model, digest = load_transcriber(tmp_path / "tr" / "ckpt")  # verifies the sha256 file
    assert digest == result["hash"] != result["first"]["hash"]
    assert (tmp_path / "tr" / "log.jsonl").read_text().count("\n") == 3
