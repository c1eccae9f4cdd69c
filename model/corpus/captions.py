"""Captions written from a piece's labels in varied, sometimes partial phrasing; some phrasings are held out."""

from __future__ import annotations

import random
from dataclasses import dataclass

from model.corpus.composer import INSTRUMENTS, Labels

STYLE_WORDS: dict[str, tuple[str, ...]] = {
    "ambient": ("ambient", "ambient soundscape", "atmospheric ambient", "ambient drone"),
    "march": ("march", "marching band tune", "military march", "parade march"),
    "waltz": ("waltz", "waltz", "ballroom waltz", "little waltz"),
    "rock": ("rock", "rock song", "rock beat", "guitar rock"),
    "dance": ("dance", "house", "edm", "club track", "dance track"),
    "lo-fi": ("lo-fi hip hop", "lo-fi", "lofi beat", "lo-fi hip hop beat"),
    "chiptune": ("chiptune", "8-bit", "video game music", "chiptune tune"),
    "ballad": ("ballad", "slow ballad", "ballad", "love ballad"),
    "jazz": ("jazz", "swing jazz", "jazz combo", "jazz tune"),
    "folk": ("folk", "acoustic folk", "folk tune", "folk song"),
    "cinematic": ("cinematic", "orchestral", "film score", "cinematic orchestral"),
    "synthwave": ("synthwave", "retro synth", "80s synthwave", "outrun"),
    "piano": ("solo piano", "piano piece", "piano solo", "solo piano piece"),
}
NOUNS = ("track", "piece", "tune", "song", "instrumental", "theme", "cue", "loop")
_NOUN_ENDINGS = (*NOUNS, "beat", "soundscape", "drone", "solo", "march", "waltz", "ballad", "music", "score", "combo")
_SHARP_WORDS = {"#": " sharp", "b": " flat"}


@dataclass(frozen=True)
class Caption:
    text: str
    mentions: frozenset[str]  # label fields the text states: style, mood, key, bpm, meter, instruments, drums


def key_phrase(key: str, rng: random.Random, held_out: bool) -> str:
    """'A minor' -> 'in A minor' / 'key of A minor' / 'Am' …; held-out phrasings spell accidentals as words."""
    tonic, mode = key.split()
    if held_out:
        spelled = tonic[0] + _SHARP_WORDS.get(tonic[1:], "")
        return rng.choice((f"in the key of {spelled} {mode}", f"{spelled} {mode} tonality", f"set in {tonic} {mode}"))
    short = tonic + ("m" if mode == "minor" else "")
    return rng.choice((f"in {key}", f"key of {key}", key, f"in {short}", f"{key} key", f"{tonic} {mode[:3]}"))


def tempo_phrase(bpm: int, rng: random.Random, held_out: bool) -> str:
    if held_out:
        return rng.choice((f"at a tempo of {bpm}", f"{bpm} beats a minute", f"clocking in at {bpm} bpm"))
    return rng.choice((f"at {bpm} BPM", f"{bpm} bpm", f"tempo {bpm}", f"{bpm} beats per minute", f"{bpm}bpm"))


def meter_phrase(time_signature: str, rng: random.Random) -> str:
    if time_signature == "3/4":
        return rng.choice(("in 3/4", "3/4 time", "in three", "triple meter"))
    return rng.choice(("in 4/4", "4/4 time", "common time"))


def instruments_phrase(programs: dict[str, int], rng: random.Random) -> tuple[str, list[str]]:
    """'electric piano and synth bass' from the roles, melody first; returns the phrase and the programs' names."""
    roles = [r for r in ("melody", "chords", "bass") if r in programs]
    roles = [r for i, r in enumerate(roles) if programs[r] not in [programs[q] for q in roles[:i]]]  # one per sound
    rng.shuffle(roles)
    roles = roles[: rng.randint(1, len(roles))]
    names: list[str] = []
    for role in roles:
        name = rng.choice(INSTRUMENTS[programs[role]])
        if name not in names:
            names.append(name)
    phrase = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return phrase, [INSTRUMENTS[programs[r]][0] for r in roles]


def caption(labels: Labels, rng: random.Random, held_out: bool = False) -> Caption:
    """One caption; each label is stated or left out at random, so prompts range from full to a few words."""
    keep = {
        "style": rng.random() < 0.85,
        "mood": rng.random() < 0.7,
        "instruments": rng.random() < 0.7,
        "key": rng.random() < 0.7,
        "bpm": rng.random() < 0.7,
        "meter": rng.random() < (0.4 if labels.time_signature == "3/4" else 0.1),
        "drums": rng.random() < 0.25,
    }
    if sum(keep.values()) < 2:
        keep["style"] = keep["key"] = True
    style = rng.choice(STYLE_WORDS[labels.style]) if keep["style"] else ""
    mood = labels.mood if keep["mood"] else ""
    inst, _ = instruments_phrase(labels.programs, rng) if keep["instruments"] else ("", [])
    key = key_phrase(labels.key, rng, held_out) if keep["key"] else ""
    tempo = tempo_phrase(labels.bpm, rng, held_out) if keep["bpm"] else ""
    meter = meter_phrase(labels.time_signature, rng) if keep["meter"] else ""
    drums = ""
    if keep["drums"]:
        drums = (
            rng.choice(("with drums", "with a drum kit"))
            if labels.has_drums
            else rng.choice(("no drums", "no percussion"))
        )

    form = rng.choice(("tags", "prose2")) if held_out else rng.choice(("prose", "prose", "list", "tags"))
    if form == "tags":  # "lo-fi, chill, electric piano, A minor, 85 bpm"
        parts = [style, mood, inst, drums, key, tempo, meter]
        text = ", ".join(p for p in parts if p)
    elif form == "list":  # "calm solo piano, 70 bpm, key of E major"
        head = " ".join(p for p in (mood, style or inst) if p)
        rest = [inst if style else "", drums, tempo, key, meter]
        text = ", ".join(p for p in [head, *rest] if p)
    elif form == "prose":  # "an upbeat lo-fi hip hop beat with electric piano in A minor at 85 BPM"
        noun = "" if style.endswith(_NOUN_ENDINGS) else rng.choice(NOUNS)
        head = " ".join(p for p in (mood, style, noun) if p)
        text = _article(head) + " " + head
        if inst:
            text += rng.choice((" with ", " featuring ", " for ", " on ")) + inst
        after_comma = False
        for p in (drums, key, tempo):
            if p:
                joined = p.startswith(("in ", "at ", "key ")) and not after_comma
                text += (" " if joined else ", ") + p
                after_comma = p == drums
        if meter:
            text += ", " + meter
    else:  # held-out prose: "music for a game level: ..." framings never seen in training
        frame = rng.choice(("music for a game level:", "background music -", "soundtrack idea:", "write me"))
        body = " ".join(p for p in (mood, style) if p) or "music"
        extras = ", ".join(p for p in (f"played on {inst}" if inst else "", drums, key, tempo, meter) if p)
        text = f"{frame} {body}" + (f", {extras}" if extras else "")
    mentions = frozenset(k for k, v in keep.items() if v)
    return Caption(text.strip(), mentions)


def _article(phrase: str) -> str:
    return "an" if phrase[:1].lower() in "aeiou" or phrase.startswith("8") else "a"


def captions(labels: Labels, count: int, seed: int, held_out: bool = False) -> list[Caption]:
    """`count` captions of one piece, deterministic from `seed`."""
    rng = random.Random(seed)
    return [caption(labels, rng, held_out) for _ in range(count)]
