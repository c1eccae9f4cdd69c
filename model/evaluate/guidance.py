"""Re-measure the guidance-branch alternatives of the model card (docs/model-card.md, "Sampler").

    python -m model.evaluate.guidance --branch key             # what acegit ships (render format 2)
    python -m model.evaluate.guidance --branch text            # render format 1: only the prompt is guided
    python -m model.evaluate.guidance --branch early --loops   # BPM, metre and melody guided too while sigma >= 0.7
    python -m model.evaluate.guidance --branch all --eval-seed 2000003

The guidance branch of classifier-free guidance lacks, per --branch: `text` the prompt; `key` the prompt and the key
(shipped); `all` the prompt, key, BPM, metre and melody; `early` like `all` while sigma >= 0.7, like `key` after. The
alternatives are patched into the engine for this process only (an experiment, not a product option). Prints:
- adherence and near-silence on a held-out set (model/evaluate/run.py; --eval-seed picks the set), JSON to --out;
- near-silence of 12-s renders of bench/bench_loop.py's five prompts at guidance 4 (share of 46 ms windows 30 dB under
  the render's loudest);
- with --loops, the loop seam table of bench/bench_loop.py (3 seeds, 4 bars).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

EARLY_SIGMA = 0.7


def patch(branch: str) -> None:
    """Make Engine.generate use the given guidance branch (in this process)."""
    import torch

    from acegit.engine import inference, sampling
    from acegit.engine.conditioning import Conditions, single_conditions

    if branch == "key":
        return
    shipped = inference.Engine.conditions

    def conditions(self: Any, r: Any) -> tuple[Any, Any]:
        cond, keyless = shipped(self, r)
        if branch == "text":
            return cond, cond.without_text()
        text, mask = self._encode_text(r.negative_prompt)
        bare = single_conditions(
            text.cpu(),
            mask.cpu(),
            bpm=0.0,
            key="",
            time_signature="",
            duration=r.duration,
            frames=self.frames(r),
            latent_rate=self.latent_rate,
            harmonics=self.cfg.dit.beat_harmonics,
        ).to(self.device)
        return cond, (bare if branch == "all" else (keyless, bare))

    def guided(model: Any, scale: float, interval: Any = (0.0, 1.0), cat: Any = None) -> Any:
        def denoise(x: torch.Tensor, sigma: torch.Tensor, *, cond: Any, uncond: Any) -> torch.Tensor:
            if isinstance(uncond, tuple):  # early: the bare branch while sigma is high
                uncond = uncond[1] if float(sigma[0]) >= EARLY_SIGMA else uncond[0]
            if scale == 1.0:
                return model(x, sigma, cond=cond)
            both = model(torch.cat([x, x]), torch.cat([sigma, sigma]), cond=Conditions.cat([cond, uncond]))
            v_c, v_u = both.chunk(2)
            return v_u + scale * (v_c - v_u)

        return denoise

    inference.Engine.conditions = conditions  # type: ignore[method-assign]
    sampling.guided = guided  # type: ignore[assignment]


def quiet_on_prompts(weights: Path) -> list[float]:
    """Near-silence of 12-s renders of the loop bench's five prompts, guidance 4, seeds 1000-1004."""
    from acegit.engine.inference import Engine
    from acegit.engine.request import GenerationRequest
    from model.evaluate.run import quiet_share

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from bench_loop import PROMPTS

    engine = Engine.load(weights, device="cpu")
    out = []
    for i, (prompt, bpm, key) in enumerate(PROMPTS):
        r = GenerationRequest(
            prompt=prompt,
            negative_prompt="",
            seed=1000 + i,
            duration=12.0,
            bpm=bpm,
            key=key,
            time_signature="4/4",
            steps=20,
            guidance=4.0,
            sampler="euler",
        )
        (latent,) = engine.generate([r])
        out.append(round(quiet_share(engine.decode(latent, 12 * engine.sample_rate)), 2))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--branch", choices=("text", "key", "early", "all"), default="key")
    p.add_argument("--weights", type=Path, default=Path("model/weights/tiny"))
    p.add_argument("--eval-seed", type=int, default=None, help="held-out corpus seed (default: run.py's)")
    p.add_argument("--out", type=Path, default=None, help="results JSON (default: /tmp/guidance-BRANCH.json)")
    p.add_argument("--loops", action="store_true", help="also run the loop seam bench (3 seeds, 4 bars)")
    a = p.parse_args(argv)
    patch(a.branch)

    from model.evaluate import run

    args = ["--weights", str(a.weights), "--out", str(a.out or Path(f"/tmp/guidance-{a.branch}.json"))]
    run.main(args + (["--eval-seed", str(a.eval_seed)] if a.eval_seed is not None else []))
    print(f"quiet windows, 5 prompts at guidance 4 ({a.branch}):", " / ".join(map(str, quiet_on_prompts(a.weights))))
    if a.loops:
        import bench_loop

        sys.argv = ["bench_loop.py", "--weights", str(a.weights), "--seeds", "3", "--device", "cpu"]
        bench_loop.main()


if __name__ == "__main__":
    main()
