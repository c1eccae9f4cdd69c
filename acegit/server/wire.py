"""Arrays on the wire between server and client: float32, little-endian, zlib, base64, with their sha256.

The lock file stores its latent as float16 but records the sha256 of the exact float32 latent, so the client needs
the float32 bits to write the lock a local render would write; the audio travels unclipped for the same reason
(its statistics are taken before the audio file's clipping). numpy only: no torch on the client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import zlib
from typing import TYPE_CHECKING, Any

from acegit.errors import AcegitError
from acegit.lockfile import LockEnvironment

if TYPE_CHECKING:
    import numpy as np

ENCODING = "float32+zlib+base64"


def pack_array(array: np.ndarray) -> dict[str, Any]:
    import numpy as np

    raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
    return {
        "shape": [int(d) for d in np.shape(array)],
        "encoding": ENCODING,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "data": base64.b64encode(zlib.compress(raw, 1)).decode("ascii"),
    }


def unpack_array(doc: Any, what: str, max_bytes: int) -> np.ndarray:
    """The array, checked against its shape and sha256; AcegitError naming `what` when anything is off."""
    import numpy as np

    try:
        shape = tuple(int(d) for d in doc["shape"])
        if doc["encoding"] != ENCODING or any(d < 0 for d in shape) or math.prod(shape) * 4 > max_bytes:
            raise ValueError("unsupported encoding or size")
        dec = zlib.decompressobj()
        raw = dec.decompress(base64.b64decode(doc["data"], validate=True), max_bytes + 1)
        if len(raw) != math.prod(shape) * 4 or hashlib.sha256(raw).hexdigest() != doc["sha256"]:
            raise ValueError("size or sha256 does not match")
    except (KeyError, TypeError, ValueError, binascii.Error, zlib.error) as e:
        raise AcegitError(f"the server sent a damaged {what} ({e})") from None
    return np.frombuffer(raw, dtype="<f4").reshape(shape).copy()


def environment_to_json(env: LockEnvironment) -> dict[str, Any]:
    return {
        "fingerprint": env.fingerprint,
        "device_class": env.device_class,
        "torch": env.torch,
        "dtype": env.dtype,
        "deterministic": env.deterministic,
        "acegit": env.acegit,
        "libraries": env.libraries,
    }


def environment_from_json(doc: Any) -> LockEnvironment:
    """The server's environment as the lock records it; its fingerprint is recomputed, never trusted."""
    try:
        env = LockEnvironment.make(
            str(doc["device_class"]),
            str(doc["torch"]),
            str(doc["dtype"]),
            bool(doc["deterministic"]),
            acegit=str(doc["acegit"]),
            libraries=str(doc.get("libraries", "")),
        )
    except (KeyError, TypeError) as e:
        raise AcegitError(f"the server sent a damaged environment ({e})") from None
    if env.fingerprint != doc.get("fingerprint"):
        raise AcegitError("the server's environment fingerprint does not match its fields (a different acegit?)")
    return env
