"""The client side of `acegit serve`: `acegit render --remote URL` and daemon use (a server running for this project).

It plugs into the core as a `Models` whose engines sample on the server, so `render_tracks` publishes audio, lock
and cache entry exactly as a local render does, with the server's environment in the lock. Standard library HTTP and
numpy only: the client never imports torch.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from acegit.errors import AcegitError
from acegit.lockfile import LockEnvironment, as_stored, latent_sha256
from acegit.project import Project
from acegit.server.info import read_info
from acegit.server.limits import MAX_RESPONSE_ARRAY
from acegit.server.wire import environment_from_json, unpack_array
from acegit.snapshots import Models

if TYPE_CHECKING:
    import numpy as np

    from acegit.engine.backend import Backend
    from acegit.engine.request import GenerationRequest

TIMEOUT = 60.0  # seconds without a byte from the server before giving up (a render streams progress meanwhile)


class ServerError(AcegitError):
    """The server refused or failed; the message is the server's own."""


class Client:
    """JSON over HTTP with a bearer token."""

    def __init__(self, url: str, token: str | None, timeout: float = TIMEOUT) -> None:
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout

    def _open(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        import urllib.error  # here, not at the top: a render that finds no server never pays for http.client (27 ms)
        import urllib.request

        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            return urllib.request.urlopen(req, timeout=timeout or self.timeout)  # noqa: S310 - the user's URL
        except urllib.error.HTTPError as e:
            try:
                err = json.loads(e.read().decode("utf-8"))["error"]
                message, hint = err["message"], err.get("hint")
            except (ValueError, KeyError, TypeError):
                message, hint = f"HTTP {e.code}", None
            raise ServerError(f"{self.url}: {message}", hint=hint) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ServerError(
                f"cannot reach the acegit server at {self.url}: {reason}",
                hint="Is `acegit serve` running there? Render locally with --no-server (or without --remote).",
            ) from None

    def json(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        with self._open(method, path, body, timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))

    def events(self, job_id: str) -> Iterator[dict[str, Any]]:
        """A job's Server-Sent Events until it ends."""
        with self._open("GET", f"/v1/jobs/{job_id}/events") as resp:
            for raw in resp:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("data: "):
                    event = json.loads(line[6:])
                    yield event
                    if event["event"] in ("done", "failed", "cancelled", "shutdown"):
                        return

    def run_job(self, path: str, body: Any, on_event: Callable[[dict[str, Any]], None]) -> Any:
        """Submit a job, follow its events, return its result; Ctrl-C cancels it on the server."""
        job = self.json("POST", path, body)
        try:
            last: dict[str, Any] = {}
            for event in self.events(job["id"]):
                on_event(event)
                last = event
        except KeyboardInterrupt:
            with contextlib.suppress(AcegitError):
                self.json("DELETE", f"/v1/jobs/{job['id']}", timeout=5)
            raise
        if last.get("event") != "done":
            err = last.get("error") or {}
            what = err.get("message") or last.get("event", "ended without a result")
            raise ServerError(f"{self.url}: job {job['id']} {what}", hint=err.get("hint"))
        return self.json("GET", f"/v1/jobs/{job['id']}/result")["result"]


@dataclass(frozen=True)
class _Device:
    type: str  # what render.py reads of a device: "cpu" or "cuda" (its batch size)


class RemoteEngine:
    """One model on the server: generate() samples there; decode() returns the audio the server decoded with it."""

    def __init__(self, client: Client, model: dict[str, Any], melody_of: Callable[[GenerationRequest], bytes | None]):
        self.client, self.model, self.melody_of = client, model, melody_of
        self.sample_rate: int = int(model["sample_rate"])
        self.device = _Device(str(model["device"]))
        self.waves: dict[str, np.ndarray] = {}  # latent sha256 -> the server's audio of it

    def generate(
        self, requests: Sequence[GenerationRequest], progress: Callable[[int, int], None] | None = None
    ) -> list[np.ndarray]:
        total, base, out = sum(r.steps for r in requests), 0, []
        for r in requests:
            melody = self.melody_of(r)
            fields = {
                "prompt": r.prompt,
                "negative_prompt": r.negative_prompt,
                "seed": r.seed,
                "duration": r.duration,
                "bpm": r.bpm,
                "key": r.key,
                "time_signature": r.time_signature,
                "steps": r.steps,
                "guidance": r.guidance,
                "sampler": r.sampler,
                "loop": r.loop,
                "lyrics": r.lyrics or None,
                "shift": r.shift,
                "edits": [e.table() for e in r.edits] or None,
                "vocoder": r.vocoder,
            }
            body = {
                "model": self.model["name"],
                "weights": self.model["weights"],
                "request": fields,
                "melody": base64.b64encode(melody).decode("ascii") if melody is not None else None,
            }

            def on_event(e: dict[str, Any], base: int = base) -> None:
                if e["event"] == "progress" and progress is not None:
                    progress(base + int(e["step"]), total)

            result = self.client.run_job("/v1/render", body, on_event)
            latent = unpack_array(result["latent"], "latent", MAX_RESPONSE_ARRAY)
            wave = unpack_array(result["audio"], "audio", MAX_RESPONSE_ARRAY)
            if int(result["audio"]["sample_rate"]) != self.sample_rate:
                raise ServerError(f"{self.client.url}: the audio's sample rate changed during the render")
            self.waves[latent_sha256(as_stored(latent))] = wave  # render decodes the latent as its lock stores it
            out.append(latent)
            base += r.steps
        return out

    def decode(
        self, latent: np.ndarray, num_samples: int | None = None, loop: bool = False, vocoder: str | None = None
    ) -> np.ndarray:
        wave = self.waves.pop(latent_sha256(latent), None)
        if wave is None or (num_samples is not None and len(wave) != num_samples):
            raise AcegitError("internal: a remote render's audio is missing or has the wrong length")
        return wave


class RemoteEngines(Models):
    """The models of a project, sampled by an acegit server; references (and weights hashes) stay local."""

    def __init__(self, project: Project, url: str, token: str | None) -> None:
        super().__init__(project, "remote")
        self.client = Client(url, token)
        self.served: dict[str, dict[str, Any]] = {}
        self.melodies: dict[str, bytes] = {}

    def _model(self, name: str) -> dict[str, Any]:
        """The server's view of model `name`; it refuses (409) unless it has exactly our weights."""
        if name not in self.served:
            from urllib.parse import quote

            ref = self.ref(name)
            self.served[name] = self.client.json("GET", f"/v1/models/{quote(name)}?weights={quote(ref.weights_hash)}")
        return self.served[name]

    def environment(self, name: str) -> LockEnvironment:
        if name not in self._envs:
            self._envs[name] = environment_from_json(self._model(name)["environment"])
        return self._envs[name]

    def engine(self, name: str) -> Backend:
        if name not in self._engines:
            self._engines[name] = cast("Backend", RemoteEngine(self.client, self._model(name), self._melody))
        return self._engines[name]

    @staticmethod
    def _melody(r: GenerationRequest) -> bytes | None:
        from acegit.midi import read_midi

        return read_midi(r.melody) if r.melody is not None else None


def remote_engines(project: Project, url: str, token: str | None) -> RemoteEngines:
    return RemoteEngines(project, url, token)


def local_server(project: Project, device: str) -> RemoteEngines | None:
    """The running `acegit serve` of this project on this machine, if any (and if it renders on `device`)."""
    info = read_info(project)
    if info is None or (device != "auto" and device != info.device):
        return None
    engines = RemoteEngines(project, info.url, info.token)
    try:
        engines.client.json("GET", "/v1/health", timeout=2.0)
    except AcegitError:
        return None  # not answering (starting, stopping, or a stale file): render here
    return engines
