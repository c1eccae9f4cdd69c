"""3x3 'same' convolutions for CPU inference: ATen's own arithmetic, without its fresh im2col buffer per call.

With oneDNN off (engine/device.py: it changes bits with the thread count) a CPU conv2d runs ATen's slow path: it
unfolds the input into a new (C * 9, H * W) matrix, zero-filled, then makes one MKL product with the bias already in
the output. The DCAE decoder's full-resolution layers unfold 95 MB per call (a 30-s track), and a block that large is
mapped fresh from the OS each time: the kernel zeroes every page on first touch, then ATen zero-fills it again — about
a third of the decoder's time (docs/performance.md, "Fast path"). Conv3x3 does the same unfold into one workspace
that lives for a whole decode (`workspace()`), zeroes only the borders the padding leaves, and calls the same product
(`addmm` of the same row-major operands: MKL sees the same gemm, m = H * W, n = out channels, k = C * 9, beta 1), so
its output is ATen's bit for bit (tests/engine/test_conv.py, at the decoder's shapes, 1 and 2 threads, batch 1 and 2).

It is used only where that holds: CPU, float32, no autograd, oneDNN off, inside `workspace()`; anywhere else (training,
CUDA) it is nn.Conv2d.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

_local = threading.local()  # the workspace of the decode running on this thread, if any


class Workspace:
    """One flat float32 buffer that each conv of a decode unfolds into; sized once, for the largest."""

    def __init__(self, floats: int) -> None:
        self.buffer = _uninitialised(floats)

    def take(self, floats: int) -> torch.Tensor:
        if floats > self.buffer.numel():  # a size estimate that fell short: grow (correct, only slower)
            self.buffer = _uninitialised(floats)
        return self.buffer[:floats]


def _uninitialised(floats: int) -> torch.Tensor:
    """`floats` float32s of uninitialised memory, 64-byte aligned as torch's own allocations are, without the NaN fill
    deterministic mode gives every torch.empty (95 MB for a 30-s decode: 34 ms, 13% of the decode, measured). Safe
    because `_conv3x3` writes every float of the unfolded input (copied or zeroed) before its product reads one."""
    raw = np.empty(floats + 16, dtype=np.float32)
    start = (-raw.ctypes.data % 64) // 4
    return torch.from_numpy(raw[start : start + floats])


@contextlib.contextmanager
def workspace(floats: int) -> Iterator[None]:
    """Let the Conv3x3 layers run on this thread unfold into one buffer of `floats` floats until the block ends."""
    outer = getattr(_local, "workspace", None)
    _local.workspace = Workspace(floats)
    try:
        yield
    finally:
        _local.workspace = outer


def unfolded_size(channels: int, height: int, width: int) -> int:
    """Floats the unfolded input of a 3x3 'same' conv over (channels, height, width) takes."""
    return channels * 9 * height * width


class Conv3x3(nn.Conv2d):
    """nn.Conv2d(c_in, c_out, 3, padding=1) (the same parameters and state dict), unfolding into the workspace."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ws: Workspace | None = getattr(_local, "workspace", None)
        if (
            ws is None
            or x.device.type != "cpu"
            or x.dtype != torch.float32
            or torch.is_grad_enabled()
            or torch.backends.mkldnn.enabled
            or self.bias is None
        ):
            return super().forward(x)
        return _conv3x3(x.contiguous(), self.weight, self.bias, ws)


def _conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, ws: Workspace) -> torch.Tensor:
    batch, c, h, w = x.shape
    out_c = weight.shape[0]
    cols = ws.take(unfolded_size(c, h, w)).view(c, 3, 3, h, w)  # ATen's row order: channel, then kernel row, column
    out = torch.empty(batch, out_c, h, w, dtype=x.dtype)
    w2 = weight.reshape(out_c, c * 9)
    b2 = bias[:, None]
    for b in range(batch):  # ATen's slow path makes one product per batch item, too
        xb = x[b]
        for ky in range(3):
            dy = ky - 1
            y0, y1 = max(0, -dy), h - max(0, dy)  # output rows whose input row y + dy exists
            for kx in range(3):
                dx = kx - 1
                x0, x1 = max(0, -dx), w - max(0, dx)
                tap = cols[:, ky, kx]
                tap[:, y0:y1, x0:x1].copy_(xb[:, y0 + dy : y1 + dy, x0 + dx : x1 + dx])
                tap[:, :y0].zero_()  # the zero padding: one row or column at most on each side
                tap[:, y1:].zero_()
                tap[:, y0:y1, :x0].zero_()
                tap[:, y0:y1, x1:].zero_()
        torch.addmm(b2, w2, cols.view(c * 9, h * w), out=out[b].view(out_c, h * w))
    return out
