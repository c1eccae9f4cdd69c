from __future__ import annotations

import pytest

from acegit.keys import ALL_KEYS, normalize_key, parse_key


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("C major", "C major"),
        ("F# minor", "F# minor"),
        ("Am", "A minor"),
        ("A minor", "A minor"),
        ("Bbm", "Bb minor"),
        ("bb minor", "Bb minor"),
        ("eb minor", "Eb minor"),
        ("D#m", "Eb minor"),  # enharmonic spellings map to one canonical name
        ("C#", "Db major"),
        ("Gb major", "F# major"),
        ("C#m", "C# minor"),
        ("Abm", "G# minor"),
        ("Cb", "B major"),
        ("E# min", "F minor"),
        ("  G maj ", "G major"),
        ("F♯ minor", "F# minor"),
        ("B♭", "Bb major"),
        ("CM", "C major"),
        ("cm", "C minor"),
    ],
)
def test_normalize(text: str, canonical: str) -> None:
    assert normalize_key(text) == canonical


@pytest.mark.parametrize("text", ["", "H major", "C dorian", "C##", "major", "Cmajor minor", "7"])
def test_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="key|mode"):
        parse_key(text)


def test_canonical_names_are_fixed_points_and_indexed() -> None:
    assert len(ALL_KEYS) == 24 and len(set(ALL_KEYS)) == 24
    for i, name in enumerate(ALL_KEYS):
        key = parse_key(name)
        assert key.name == name
        assert key.index == i
