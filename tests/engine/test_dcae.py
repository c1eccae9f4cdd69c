from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from acegit.engine.config import DCAEConfig, preset
from acegit.engine.dcae import DCAE, Down, Up


def count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(("name", "low", "high"), [("tiny", 1.2e6, 1.8e6), ("base", 3.0e6, 4.2e6)])
def test_parameter_counts(name: str, low: float, high: float) -> None:
    assert low <= count(DCAE(preset(name).dcae)) <= high


def test_shapes_8x_time_8x_frequency_8_channels() -> None:
    torch.manual_seed(0)
    ae = DCAE(DCAEConfig()).eval()
    mel = torch.randn(2, 128, 96)
    z = ae.encode(mel)
    assert z.shape == (2, 8, 16, 12)
    assert ae.decode(z).shape == mel.shape
    with pytest.raises(AssertionError):
        ae.encode(torch.randn(1, 128, 100))  # frames must be padded to a multiple of 8 first


def test_space_to_channel_shortcuts_are_exact_when_the_convs_are_zero() -> None:
    x = torch.randn(1, 16, 8, 12)
    down, up = Down(16, 32), Up(32, 16)
    for m in (down.conv, up.conv):
        torch.nn.init.zeros_(m.weight)
        torch.nn.init.zeros_(m.bias)
    # Down: space-to-channel then the mean of channel pairs; Up: duplicate channels then channel-to-space.
    torch.testing.assert_close(down(x), F.pixel_unshuffle(x, 2).view(1, 32, 2, 4, 6).mean(2))
    z = torch.randn(1, 32, 4, 6)
    torch.testing.assert_close(up(z), F.pixel_shuffle(z.repeat_interleave(2, dim=1), 2))


def test_decoding_is_local_in_time_and_batch_independent() -> None:
    """A latent frame only reaches nearby mel frames (no statistic over time), and batch items never mix."""
    torch.manual_seed(0)
    ae = DCAE(DCAEConfig()).eval()
    z = torch.randn(2, 8, 16, 40)
    with torch.no_grad():
        base = ae.decode(z)
        z2 = z.clone()
        z2[0, :, :, 30] += 1.0
        diff = (ae.decode(z2) - base).abs().amax(dim=1)  # (B, frames)
    assert diff[1].max() == 0  # the other batch item is untouched
    changed = torch.nonzero(diff[0] > 0).flatten()
    assert changed.min() >= 8 * 30 - 64 and changed.max() < 8 * 31 + 64
