"""Musical keys: parse what people write ("Am", "Bbm", "C#", "eb minor") into one canonical spelling per key."""

from __future__ import annotations

import re
from dataclasses import dataclass

# One spelling per pitch class and mode: the one with the fewer accidentals in its key signature
# (F# over Gb for the six-accidental tie, as most charts spell it).
MAJOR_TONICS = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MINOR_TONICS = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")

# All 24 canonical names: the 12 major keys, then the 12 minor keys, each in pitch-class order from C.
ALL_KEYS: tuple[str, ...] = tuple(f"{t} major" for t in MAJOR_TONICS) + tuple(f"{t} minor" for t in MINOR_TONICS)

_LETTER_PC = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_ACCIDENTAL = {"#": 1, "♯": 1, "b": -1, "♭": -1}
_MODES = {
    "": "major",
    "maj": "major",
    "major": "major",
    "min": "minor",
    "minor": "minor",
}
_KEY_RE = re.compile(r"^\s*([A-Ga-g])([#♯b♭]?)\s*([A-Za-z]*)\s*$")


@dataclass(frozen=True)
class Key:
    """A key as pitch class of the tonic (0 = C) and mode ("major" | "minor")."""

    pitch_class: int
    mode: str

    @property
    def name(self) -> str:
        tonics = MAJOR_TONICS if self.mode == "major" else MINOR_TONICS
        return f"{tonics[self.pitch_class]} {self.mode}"

    @property
    def index(self) -> int:
        """Position in ALL_KEYS (0–11 major, 12–23 minor): a stable id for model conditioning."""
        return self.pitch_class + (0 if self.mode == "major" else 12)


def parse_key(text: str) -> Key:
    """Parse a key name; raise ValueError with the accepted forms when it is not one."""
    m = _KEY_RE.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a key name (write e.g. 'A minor', 'F# major', 'Am', 'Bbm', 'C#')")
    letter, accidental, mode_word = m.groups()
    if mode_word == "m":
        mode = "minor"
    elif mode_word == "M":
        mode = "major"
    elif mode_word.lower() in _MODES:
        mode = _MODES[mode_word.lower()]
    else:
        raise ValueError(f"{text!r}: unknown mode {mode_word!r} (use 'major' or 'minor', or the short forms 'Am', 'A')")
    pitch_class = (_LETTER_PC[letter.lower()] + _ACCIDENTAL.get(accidental, 0)) % 12
    return Key(pitch_class, mode)


def normalize_key(text: str) -> str:
    """The canonical spelling of a key name, e.g. "Bbm" -> "Bb minor", "Gb" -> "F# major"."""
    return parse_key(text).name
