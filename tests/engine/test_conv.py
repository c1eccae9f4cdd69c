"""Conv3x3 (acegit/engine/conv.py): ATen's CPU conv2d bit for bit, unfolding into one workspace per decode;
nn.Conv2d elsewhere."""

from __future__ import annotations

import contextlib

import pytest
import torch
import torch.nn.functional as F

from acegit.engine import conv
from acegit.engine.config import tiny
from acegit.engine.dcae import DCAE

# (in channels, out channels, height, width) of the shipped decoder's 3x3 convs for a 30-s track (width 1292 at full
# resolution), at a fifth of the width: the same channel counts and rows, so the same MKL products, only shorter
DECODER_SHAPES = [(8, 128, 16, 65), (128, 128, 16, 65), (32, 64, 32, 130), (64, 64, 32, 130), (16, 32, 64, 259),
                  (32, 32, 64, 259), (32, 4, 64, 259)]  # fmt: skip


@pytest.fixture(autouse=True)
def _slow_path() -> None:
    """What the engine runs with (engine/device.py): oneDNN off, so conv2d is ATen's slow path."""
    saved = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False  # type: ignore[assignment]
    yield
    torch.backends.mkldnn.enabled = saved  # type: ignore[assignment]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape", DECODER_SHAPES)
def test_conv3x3_is_aten_bit_for_bit_alone_and_batched(shape: tuple[int, int, int, int], threads: int) -> None:
    c_in, c_out, h, w = shape
    gen = torch.Generator().manual_seed(c_in * 1000 + c_out)
    layer = conv.Conv3x3(c_in, c_out)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * 0.2)
        layer.bias.copy_(torch.randn(c_out, generator=gen))
    x = torch.randn(2, c_in, h, w, generator=gen)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            expected = F.conv2d(x, layer.weight, layer.bias, padding=1)
            with conv.workspace(conv.unfolded_size(c_in, h, w)):
                ws = conv._local.workspace
                ws.buffer.fill_(float("nan"))  # what a workspace holds from an earlier layer: never read
                batched, alone = layer(x), layer(x[1:])
            assert ws.buffer.numel() == conv.unfolded_size(c_in, h, w)  # sized right: it never had to grow
    finally:
        torch.set_num_threads(saved)
    assert torch.equal(batched, expected)
    assert torch.equal(alone, expected[1:])


def test_conv3x3_is_nn_conv2d_outside_a_decode_and_under_autograd() -> None:
    layer = conv.Conv3x3(4, 6)
    x = torch.randn(1, 4, 8, 9, requires_grad=True)
    y = layer(x)  # no workspace: plain nn.Conv2d
    with conv.workspace(conv.unfolded_size(4, 8, 9)):
        z = layer(x)  # gradients wanted: plain nn.Conv2d too, so training still works
        z.sum().backward()
    assert x.grad is not None and torch.equal(y, z)
    assert list(layer.state_dict()) == ["weight", "bias"]  # the checkpoint format of nn.Conv2d


def test_a_decode_takes_its_workspace_once_and_matches_plain_convs() -> None:
    """The decoder's size estimate covers every layer (no growth), and the decode equals one without the workspace."""
    torch.manual_seed(0)
    cfg = tiny().dcae
    dcae = DCAE(cfg).eval()
    z = torch.randn(1, cfg.latent_channels, 16, 41)
    taken: list[int] = []
    real_take = conv.Workspace.take

    def spy(self: conv.Workspace, floats: int) -> torch.Tensor:
        taken.append(floats)
        assert floats <= self.buffer.numel(), "the decoder's workspace estimate fell short"
        return real_take(self, floats)

    with torch.inference_mode():
        conv.Workspace.take = spy  # type: ignore[method-assign]
        try:
            fast = dcae.decode(z)
        finally:
            conv.Workspace.take = real_take  # type: ignore[method-assign]
        with _no_workspace():
            plain = dcae.decode(z)
    assert len(taken) == sum(isinstance(m, conv.Conv3x3) for m in dcae.decoder.modules())
    assert max(taken) == dcae.decoder.unfolded_floats(16, 41)
    assert torch.equal(fast, plain)


@contextlib.contextmanager
def _no_workspace():  # type: ignore[no-untyped-def]
    real = conv.workspace
    conv.workspace = lambda floats: contextlib.nullcontext()  # type: ignore[assignment]
    try:
        yield
    finally:
        conv.workspace = real


@pytest.mark.parametrize("floats", [1, 7, 1000, 23_814_144])  # the last: a 30-s decode's largest unfolded input
def test_the_workspace_is_aligned_as_torch_allocates(floats: int) -> None:
    """The workspace is not torch.empty (whose NaN fill under deterministic mode cost 13% of a decode) but is aligned
    as torch's allocations are (64 bytes), so MKL sees operands like ATen's own; growing keeps that."""
    ws = conv.Workspace(floats)
    assert ws.buffer.numel() == floats and ws.buffer.dtype == torch.float32 and ws.buffer.is_contiguous()
    assert ws.buffer.data_ptr() % 64 == 0
    grown = ws.take(floats + 5)
    assert grown.numel() == floats + 5 and grown.data_ptr() % 64 == 0
