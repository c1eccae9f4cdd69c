"""One long-lived FluidSynth synthesiser that renders MIDI to mono float audio, deterministically."""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import numpy as np
import pretty_midi

# Debian's GM soundfonts, best first: FluidR3_GM (fluid-soundfont-gm, 141 MB), TimGM6mb (timgm6mb-soundfont, 6 MB).
SOUNDFONT_DIRS = (Path("/usr/share/sounds/sf2"), Path("/usr/share/soundfonts"), Path("/usr/local/share/soundfonts"))
SOUNDFONT_NAMES = ("FluidR3_GM.sf2", "TimGM6mb.sf2")
_BLOCK = (
    64  # FluidSynth renders in blocks of 64 frames; clips start on a block boundary so renders never depend on history
)
TARGET_RMS = 0.1  # -20 dBFS: clips are level-matched, so a soundfont preset's loudness is not a label
_DRUM_CHANNEL = 9
_POLYPHONY = 256  # FluidSynth voices; the reset sounds more notes than this, so every voice is reused
_FLUID_WARN = 2  # FluidSynth's log level for warnings


class SynthUnavailable(RuntimeError):
    """FluidSynth or a General MIDI soundfont is not installed."""


def find_soundfont(name: str | None = None) -> Path:
    """The first General MIDI soundfont on disk (FluidR3_GM preferred), or only `name` when given."""
    for wanted in (name,) if name else SOUNDFONT_NAMES:
        for folder in SOUNDFONT_DIRS:
            if (folder / wanted).is_file():
                return folder / wanted
    raise SynthUnavailable(
        f"no General MIDI soundfont ({name or ' or '.join(SOUNDFONT_NAMES)}) in "
        f"{', '.join(str(d) for d in SOUNDFONT_DIRS)}: apt-get install fluid-soundfont-gm (or timgm6mb-soundfont)"
    )


def _fluidsynth() -> Any:
    try:
        import fluidsynth
    except ImportError as e:  # pyfluidsynth raises ImportError when libfluidsynth is missing, too
        raise SynthUnavailable(
            f"FluidSynth is not available ({e}): apt-get install libfluidsynth3 and pip install pyfluidsynth"
        ) from e
    return fluidsynth


def room_impulse(sample_rate: int, seconds: float = 1.6, seed: int = 0) -> np.ndarray:
    """A fixed synthetic room: exponentially decaying noise (RT60 = `seconds`), unit energy."""
    rng = np.random.default_rng(seed)
    n = int(sample_rate * seconds)
    t = np.arange(n) / sample_rate
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / seconds)  # -60 dB at t = seconds
    ir[: int(0.01 * sample_rate)] = 0.0  # 10 ms pre-delay keeps the dry attack clear
    return (ir / np.sqrt(np.sum(ir**2))).astype(np.float32)


class Synth:
    """Renders PrettyMIDI objects; the soundfont is loaded once, FluidSynth's own reverb and chorus are off."""

    def __init__(self, soundfont: Path | None = None, sample_rate: int = 22050) -> None:
        fs = _fluidsynth()
        self.soundfont = soundfont or find_soundfont()
        self.sample_rate = sample_rate
        # Built-in reverb/chorus keep state between clips; a fixed convolution room replaces them.
        self._synth = fs.Synth(
            gain=0.2,
            samplerate=float(sample_rate),
            **{"synth.reverb.active": 0, "synth.chorus.active": 0, "synth.polyphony": _POLYPHONY},
        )
        self._sfid = self._synth.sfload(str(self.soundfont))
        if self._sfid < 0:
            raise SynthUnavailable(f"FluidSynth could not load the soundfont {self.soundfont}")
        self._fl = fs._fl
        self._write = fs._fl.fluid_synth_write_float
        self._write.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p, ctypes.c_int, ctypes.c_int] * 2
        self._write.restype = ctypes.c_int
        self._ir = room_impulse(sample_rate)
        self._written = 0
        self._reset()  # the state after a reset differs from a fresh synth's: start every clip from the same one

    def _run(self, left: np.ndarray, right: np.ndarray, start: int, stop: int) -> None:
        if stop > start:
            lp, rp = left.ctypes.data, right.ctypes.data
            self._write(self._synth.synth, stop - start, lp, start, 1, rp, start, 1)
            self._written += stop - start

    def render(self, pm: pretty_midi.PrettyMIDI, seconds: float, reverb: float = 0.0) -> np.ndarray:
        """Mono float32 audio of exactly `seconds`, mixed with `reverb` of the room, level-matched to TARGET_RMS."""
        n = int(round(seconds * self.sample_rate))
        events = self._events(pm)
        left = np.zeros(n, np.float32)
        right = np.zeros(n, np.float32)
        pos = 0
        for sample, kind, chan, a, b in events:
            sample = min(sample, n)
            self._run(left, right, pos, sample)
            pos = sample
            if kind == 0:
                self._synth.noteoff(chan, a)
            elif kind == 1:
                self._synth.cc(chan, a, b)
            elif kind == 2:
                self._synth.program_select(chan, self._sfid, a, b)
            else:
                self._synth.noteon(chan, a, b)
        self._run(left, right, pos, n)
        self._reset()
        dry = 0.5 * (left + right)
        audio = dry
        if reverb > 0:
            from scipy.signal import fftconvolve  # lazy: only renders need it

            wet = fftconvolve(dry, self._ir)[:n].astype(np.float32)
            audio = (1.0 - reverb) * dry + reverb * wet
        return _level(audio, self.sample_rate)

    def _events(self, pm: pretty_midi.PrettyMIDI) -> list[tuple[int, int, int, int, int]]:
        """(sample, kind, channel, a, b) sorted; kinds: 0 note off, 1 control, 2 program, 3 note on (offs first)."""
        sr = self.sample_rate
        events: list[tuple[int, int, int, int, int]] = []
        melodic = [c for c in range(16) if c != _DRUM_CHANNEL]
        for i, inst in enumerate(pm.instruments):
            chan = _DRUM_CHANNEL if inst.is_drum else melodic[i % len(melodic)]
            events.append((0, 2, chan, 128 if inst.is_drum else 0, 0 if inst.is_drum else inst.program))
            for cc in inst.control_changes:
                events.append((int(round(cc.time * sr)), 1, chan, cc.number, cc.value))
            for note in inst.notes:
                events.append((int(round(note.start * sr)), 3, chan, note.pitch, note.velocity))
                events.append((int(round(note.end * sr)), 0, chan, note.pitch, 0))
        return sorted(events)

    def _reset(self) -> None:
        """Bring the synth to one fixed state, whatever it played before, so a clip renders the same after any other."""
        # FluidSynth voices keep some DSP state between notes; sounding one fixed chord on every voice overwrites it.
        scratch = np.zeros(8 * _BLOCK, np.float32)
        for rounds in range(2):
            for chan in range(16):
                self._synth.all_sounds_off(chan)
            self._synth.system_reset()
            pad = 2 * _BLOCK + (-self._written) % _BLOCK
            self._run(scratch, scratch.copy(), 0, pad)
            if rounds == 0:
                self._fl.fluid_set_log_function(_FLUID_WARN, None, None)  # voices run out on purpose
                for chan in range(16):
                    self._synth.program_select(chan, self._sfid, 0, 0)
                    for pitch in range(40, 40 + _POLYPHONY // 8):
                        self._synth.noteon(chan, pitch, 100)
                self._run(scratch, scratch.copy(), 0, 2 * _BLOCK)
                self._fl.fluid_set_log_function(_FLUID_WARN, self._fl.fluid_default_log_function, None)

    def close(self) -> None:
        self._synth.delete()

    def __enter__(self) -> Synth:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _level(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Scale to TARGET_RMS (peaks kept under 0.99) and fade the last 50 ms out so the cut does not click."""
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    if rms > 1e-6:
        audio = audio * (TARGET_RMS / rms)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0.99:
        audio = audio * (0.99 / peak)
    fade = min(len(audio), int(0.05 * sample_rate))
    if fade:
        audio[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return audio.astype(np.float32)
