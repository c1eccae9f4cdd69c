"""Procedural composer: General MIDI pieces with known labels (style, mood, BPM, key, meter, instruments, sections)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import pretty_midi

from acegit.keys import ALL_KEYS, parse_key

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}  # natural minor; V is raised on demand
DYNAMICS = ("pp", "p", "mp", "mf", "f", "ff")
_DYNAMIC_VELOCITY = {"pp": 38, "p": 52, "mp": 66, "mf": 80, "f": 96, "ff": 110}

# GM programs (0-based) the corpus uses, with the words a caption may call them by (first = canonical name).
INSTRUMENTS: dict[int, tuple[str, ...]] = {
    0: ("piano", "grand piano", "acoustic piano"),
    4: ("electric piano", "rhodes", "e-piano"),
    5: ("electric piano", "fm electric piano", "e-piano"),
    10: ("music box", "music box"),
    11: ("vibraphone", "vibes"),
    12: ("marimba", "marimba"),
    16: ("organ", "drawbar organ", "hammond organ"),
    19: ("church organ", "pipe organ"),
    21: ("accordion", "accordion"),
    22: ("harmonica", "harmonica"),
    24: ("nylon guitar", "classical guitar", "acoustic guitar"),
    25: ("acoustic guitar", "steel-string guitar", "strummed acoustic guitar"),
    26: ("jazz guitar", "hollow-body guitar"),
    27: ("clean electric guitar", "clean guitar", "electric guitar"),
    29: ("overdriven guitar", "crunchy guitar", "electric guitar"),
    30: ("distorted guitar", "distortion guitar", "heavy guitar"),
    32: ("upright bass", "acoustic bass", "double bass"),
    33: ("electric bass", "bass guitar", "fingered bass"),
    34: ("picked bass", "bass guitar", "electric bass"),
    38: ("synth bass", "analog bass", "bass synth"),
    39: ("synth bass", "synth bass", "bass synth"),
    40: ("violin", "solo violin", "fiddle"),
    42: ("cello", "cello"),
    43: ("contrabass", "double bass"),
    46: ("harp", "orchestral harp"),
    48: ("strings", "string ensemble", "string section"),
    49: ("strings", "slow strings", "string ensemble"),
    50: ("synth strings", "synth strings"),
    52: ("choir", "choir aahs", "vocal choir"),
    53: ("voices", "ooh vocals", "wordless voices"),
    56: ("trumpet", "trumpet"),
    57: ("trombone", "trombone"),
    58: ("tuba", "tuba"),
    60: ("french horn", "horn", "horns"),
    61: ("brass", "brass section", "brass ensemble"),
    65: ("alto sax", "saxophone", "alto saxophone"),
    66: ("tenor sax", "saxophone", "tenor saxophone"),
    68: ("oboe", "oboe"),
    71: ("clarinet", "clarinet"),
    73: ("flute", "flute"),
    75: ("pan flute", "pan pipes"),
    80: ("square lead", "8-bit lead", "square wave lead"),
    81: ("saw lead", "sawtooth lead", "synth lead"),
    88: ("new age pad", "pad", "synth pad"),
    89: ("warm pad", "pad", "synth pad"),
    91: ("choir pad", "pad", "vocal pad"),
    95: ("sweep pad", "pad", "sweeping pad"),
}

# Where each melody instrument sings: the MIDI pitch the line centres on.
_MELODY_CENTRE = {0: 72, 4: 70, 5: 72, 10: 84, 11: 74, 12: 74, 16: 70, 19: 67, 21: 72, 22: 72, 24: 67, 26: 67, 27: 67}
_MELODY_CENTRE |= {29: 64, 30: 64, 40: 76, 42: 55, 46: 72, 52: 67, 53: 67, 56: 70, 57: 58, 60: 62, 61: 67, 65: 67}
_MELODY_CENTRE |= {66: 62, 68: 74, 71: 67, 73: 79, 75: 76, 80: 76, 81: 72}


@dataclass(frozen=True)
class Style:
    """How a genre-like style is played: tempo range, meters, instrument pools, patterns and moods."""

    bpm: tuple[int, int]  # inclusive BPM range
    waltz_p: float  # probability of 3/4 instead of 4/4
    melody: tuple[int, ...]  # GM programs for the melody
    chords: tuple[int, ...]
    bass: tuple[int, ...]
    comp: tuple[str, ...]  # chord patterns (see _comp_hits)
    bassline: tuple[str, ...]  # bass patterns (see _bass_notes)
    drums_p: float  # probability of a drum kit
    moods: tuple[str, ...]
    melody_p: float = 0.92  # probability of a melody line
    density: float = 1.0  # melody notes per beat, roughly
    swing: tuple[float, float] = (0.5, 0.5)  # offbeat-eighth position within the beat (0.5 = straight)
    reverb: tuple[float, float] = (0.08, 0.2)  # wet mix of the render's room
    loud: int = 0  # shift of the section dynamics (ambient -1, rock +1)
    bass_p: float = 0.9


STYLES: dict[str, Style] = {
    "ambient": Style(
        (60, 100),
        0.2,
        (73, 75, 11, 10, 0, 52),
        (88, 89, 91, 95, 48, 49, 52),
        (32, 38, 43),
        ("sustain",),
        ("whole",),
        0.05,
        ("calm", "dreamy", "peaceful", "meditative", "ethereal", "dark", "mysterious"),
        melody_p=0.65,
        density=0.5,
        reverb=(0.35, 0.5),
        loud=-1,
        bass_p=0.5,
    ),
    "march": Style(
        (100, 132),
        0.0,
        (56, 61, 73, 60),
        (61, 57, 60),
        (58, 57),
        ("oompah", "block"),
        ("root_fifth", "quarters"),
        1.0,
        ("proud", "triumphant", "heroic", "stirring", "bold", "determined"),
        density=1.2,
        loud=1,
    ),
    "waltz": Style(
        (80, 180),
        1.0,
        (40, 73, 0, 21, 71),
        (48, 0, 21, 49),
        (42, 32, 43),
        ("oompah",),
        ("waltz",),
        0.3,
        ("elegant", "graceful", "romantic", "nostalgic", "whimsical", "melancholic"),
        density=1.0,
        reverb=(0.15, 0.3),
    ),
    "rock": Style(
        (90, 170),
        0.1,
        (30, 29, 81, 16),
        (29, 30, 27),
        (33, 34),
        ("power8",),
        ("eighths", "root_fifth"),
        1.0,
        ("energetic", "driving", "gritty", "rebellious", "powerful", "angry"),
        density=1.1,
        loud=1,
    ),
    "dance": Style(
        (115, 140),
        0.0,
        (81, 80, 5),
        (50, 89, 81, 4),
        (38, 39),
        ("offbeat", "sustain", "block"),
        ("offbeat", "octave"),
        1.0,
        ("euphoric", "energetic", "uplifting", "hypnotic", "pumping", "dark"),
        density=1.2,
    ),
    "lo-fi": Style(
        (65, 95),
        0.1,
        (4, 11, 26, 73, 5),
        (4, 0, 26),
        (32, 33),
        ("block", "comp", "arp8"),
        ("root_fifth", "whole"),
        1.0,
        ("chill", "relaxed", "mellow", "nostalgic", "dreamy", "melancholic"),
        density=0.8,
        swing=(0.56, 0.64),
        loud=-1,
    ),
    "chiptune": Style(
        (120, 180),
        0.1,
        (80,),
        (80, 81),
        (38, 80),
        ("arp16", "offbeat"),
        ("octave", "eighths"),
        0.85,
        ("playful", "retro", "adventurous", "cheerful", "frantic", "tense"),
        density=1.6,
        reverb=(0.0, 0.05),
    ),
    "ballad": Style(
        (60, 90),
        0.3,
        (0, 40, 65, 73),
        (0, 48, 49),
        (0, 42, 32),
        ("arp8", "sustain", "block"),
        ("whole", "root_fifth"),
        0.4,
        ("tender", "melancholic", "romantic", "sad", "hopeful", "reflective"),
        density=0.7,
        reverb=(0.2, 0.3),
        loud=-1,
    ),
    "jazz": Style(
        (90, 180),
        0.15,
        (65, 66, 56, 11, 0),
        (0, 26),
        (32,),
        ("comp",),
        ("walking",),
        0.95,
        ("smooth", "sophisticated", "laid-back", "lively", "smoky", "melancholic"),
        density=1.3,
        swing=(0.6, 0.67),
    ),
    "folk": Style(
        (80, 140),
        0.35,
        (73, 22, 40, 75, 21),
        (25, 24),
        (32, 33),
        ("strum", "arp8"),
        ("root_fifth", "whole"),
        0.5,
        ("warm", "pastoral", "cheerful", "rustic", "wistful", "sad"),
        density=1.0,
        bass_p=0.7,
    ),
    "cinematic": Style(
        (60, 120),
        0.25,
        (60, 40, 68, 73, 52),
        (48, 49, 52, 61),
        (43, 42, 58),
        ("sustain", "arp8", "block"),
        ("whole", "root_fifth"),
        0.6,
        ("epic", "dramatic", "heroic", "mysterious", "tense", "majestic"),
        density=0.8,
        reverb=(0.25, 0.4),
    ),
    "synthwave": Style(
        (80, 118),
        0.05,
        (81, 80),
        (89, 50, 88),
        (38, 39),
        ("sustain", "arp16"),
        ("octave", "eighths"),
        1.0,
        ("nostalgic", "retro", "dreamy", "driving", "dark", "hopeful"),
        density=1.0,
        reverb=(0.2, 0.35),
    ),
    "piano": Style(
        (60, 140),
        0.25,
        (0,),
        (0,),
        (0,),
        ("arp8", "block", "oompah"),
        ("whole", "root_fifth"),
        0.0,
        ("calm", "tender", "playful", "melancholic", "reflective", "hopeful"),
        density=0.9,
        reverb=(0.12, 0.25),
    ),
}

# Moods that lean on one mode: the composer picks the mode first, then a mood that fits it.
_MINOR_MOODS = {"dark", "mysterious", "melancholic", "sad", "angry", "tense", "wistful", "smoky", "dramatic"}
_MAJOR_MOODS = {"triumphant", "cheerful", "playful", "uplifting", "euphoric", "hopeful", "heroic", "proud", "peaceful"}

# Chord progressions as scale degrees (0 = tonic); 4 in a minor key is played as the harmonic-minor V when marked.
PROGRESSIONS = {
    "major": ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 0), (1, 4, 0, 0), (0, 3, 0, 4), (5, 3, 0, 4), (0, 2, 3, 4)),
    "minor": ((0, 5, 2, 6), (0, 3, 4, 0), (0, 3, -4, 0), (0, 6, 5, 6), (0, 5, 3, -4), (0, 3, 6, 2), (0, 0, 3, -4)),
}
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII")

# Drum patterns on a 16th grid: {GM drum note: steps}; a bar of 4/4 has 16 steps, 3/4 has 12.
DRUMS_44: dict[str, dict[int, tuple[int, ...]]] = {
    "rock": {36: (0, 8, 10), 38: (4, 12), 42: (0, 2, 4, 6, 8, 10, 12, 14)},
    "dance": {36: (0, 4, 8, 12), 39: (4, 12), 46: (2, 6, 10, 14), 42: (0, 1, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15)},
    "lo-fi": {36: (0, 7, 10), 38: (4, 12), 42: (0, 2, 4, 6, 8, 10, 12, 14)},
    "march": {36: (0, 8), 38: (0, 3, 4, 6, 8, 11, 12, 14), 49: (0,)},
    "jazz": {51: (0, 4, 6, 8, 12, 14), 44: (4, 12), 36: (0,)},
    "chiptune": {36: (0, 8), 38: (4, 12), 42: (0, 2, 4, 6, 8, 10, 12, 14)},
    "ballad": {36: (0, 10), 37: (4, 12), 42: (0, 4, 8, 12)},
    "folk": {36: (0, 8), 54: (4, 12), 70: (0, 2, 4, 6, 8, 10, 12, 14)},
    "cinematic": {36: (0, 8), 41: (0, 3, 6), 43: (8, 11, 14)},
    "synthwave": {36: (0, 8), 38: (4, 12), 42: (0, 2, 4, 6, 8, 10, 12, 14)},
    "waltz": {36: (0, 8), 38: (4, 12), 42: (0, 4, 8, 12)},
    "ambient": {36: (0,), 42: (0, 4, 8, 12)},
}
DRUMS_34: dict[str, dict[int, tuple[int, ...]]] = {
    "default": {36: (0,), 38: (4, 8), 42: (0, 2, 4, 6, 8, 10)},
    "jazz": {51: (0, 4, 6, 8), 44: (4, 8), 36: (0,)},
    "folk": {36: (0,), 54: (4, 8), 70: (0, 2, 4, 6, 8, 10)},
    "cinematic": {36: (0,), 41: (4,), 43: (8,)},
}
_DRUM_VELOCITY = {
    36: 100,
    38: 92,
    39: 90,
    37: 70,
    42: 62,
    44: 60,
    46: 70,
    49: 95,
    51: 72,
    54: 66,
    70: 50,
    41: 96,
    43: 92,
}


@dataclass(frozen=True)
class Note:
    pitch: int  # MIDI pitch (GM drum note for drums)
    start: float  # seconds
    end: float  # seconds
    velocity: int


@dataclass(frozen=True)
class Part:
    role: str  # "melody" | "chords" | "bass" | "drums"
    program: int  # GM program, 0-based (0 for drums)
    is_drum: bool
    volume: int  # channel volume (CC 7): balances the roles
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class Section:
    name: str  # "intro" | "verse" | "chorus" | "bridge"
    start: float  # seconds
    end: float  # seconds
    dynamic: str  # "pp" … "ff", with a trailing "<" when the section swells


@dataclass(frozen=True)
class Labels:
    """Everything known about a piece: what captions and conditions are written from."""

    seed: int
    style: str
    mood: str
    bpm: int  # quarter notes per minute
    key: str  # canonical acegit key name, e.g. "A minor"
    time_signature: str  # "4/4" | "3/4"
    duration: float  # seconds
    instruments: dict[str, str] = field(default_factory=dict)  # role -> canonical instrument name
    programs: dict[str, int] = field(default_factory=dict)  # role -> GM program
    has_drums: bool = False
    progression: str = ""  # roman numerals of the first section, e.g. "i-VI-III-VII"
    swing: float = 0.5
    reverb: float = 0.0
    sections: tuple[Section, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Piece:
    labels: Labels
    parts: tuple[Part, ...]

    def part(self, role: str) -> Part | None:
        return next((p for p in self.parts if p.role == role), None)

    def to_midi(self) -> pretty_midi.PrettyMIDI:
        """The piece as a standard MIDI file (tempo and meter included), one instrument per part."""
        pm = pretty_midi.PrettyMIDI(initial_tempo=float(self.labels.bpm))
        num, den = (int(x) for x in self.labels.time_signature.split("/"))
        pm.time_signature_changes.append(pretty_midi.TimeSignature(num, den, 0.0))
        pm.key_signature_changes.append(pretty_midi.KeySignature(_key_number(self.labels.key), 0.0))
        for part in self.parts:
            inst = pretty_midi.Instrument(program=part.program, is_drum=part.is_drum, name=part.role)
            inst.control_changes.append(pretty_midi.ControlChange(7, part.volume, 0.0))
            inst.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, n.end) for n in part.notes]
            pm.instruments.append(inst)
        return pm


def _key_number(key: str) -> int:
    k = parse_key(key)
    return k.pitch_class + (12 if k.mode == "minor" else 0)


def compose(seed: int, duration: float, style: str | None = None) -> Piece:
    """A piece of `duration` seconds, fully determined by `seed` (and `style` when given)."""
    rng = random.Random(seed)
    style_name = style if style is not None else rng.choice(sorted(STYLES))
    st = STYLES[style_name]
    key = parse_key(rng.choice(ALL_KEYS))
    mood = rng.choice(
        [m for m in st.moods if m not in (_MAJOR_MOODS if key.mode == "minor" else _MINOR_MOODS)] or list(st.moods)
    )
    bpm = rng.randint(*st.bpm)
    beats = 3 if rng.random() < st.waltz_p else 4
    swing = round(rng.uniform(*st.swing), 3)
    reverb = round(rng.uniform(*st.reverb), 3)
    beat_s = 60.0 / bpm
    bars = math.ceil(duration / (beat_s * beats)) + 1

    programs = {
        "chords": rng.choice(st.chords),
        **({"melody": rng.choice(st.melody)} if rng.random() < st.melody_p else {}),
        **({"bass": rng.choice(st.bass)} if rng.random() < st.bass_p else {}),
    }
    has_drums = rng.random() < st.drums_p
    comp = rng.choice(st.comp)
    bassline = rng.choice(st.bassline)
    sections = _form(rng, bars, st.loud)
    chord_bars = 2 if bpm >= 120 and rng.random() < 0.5 else 1
    scale = SCALES[key.mode]
    progressions = {name: rng.choice(PROGRESSIONS[key.mode]) for name in ("intro", "verse", "chorus", "bridge")}
    progressions["intro"] = progressions["verse"]

    # Lay each section out in beats; timing (swing, humanising) is applied when converting to seconds.
    score: dict[str, list[tuple[int, float, float, int]]] = {r: [] for r in ("melody", "chords", "bass", "drums")}
    motifs: dict[str, list[tuple[float, float, int]]] = {}
    prev_voicing: list[int] = []
    prev_melody = _MELODY_CENTRE.get(programs.get("melody", 0), 72)
    drum_kit = _drum_pattern(style_name, beats, rng)
    for si, (name, first_bar, n_bars, dynamic) in enumerate(sections):
        vel0 = _DYNAMIC_VELOCITY[dynamic.rstrip("<")]
        swell = dynamic.endswith("<")
        prog = progressions[name]
        if name not in motifs:
            motifs[name] = _motif(rng, beats, st.density * (1.3 if name == "chorus" else 1.0))
        for b in range(n_bars):
            bar = first_bar + b
            t0 = bar * beats
            vel = int(vel0 + (18 * b / max(n_bars - 1, 1) - 8 if swell else 0))
            degree = prog[(b // chord_bars) % len(prog)]
            next_degree = prog[((b + 1) // chord_bars) % len(prog)]
            chord = _chord(key.pitch_class, scale, degree, sevenths=style_name in ("jazz", "lo-fi"))
            chord_start = b % chord_bars == 0
            # Chords: voiced near middle C, moving as little as possible from the previous voicing.
            power = programs["chords"] in (29, 30)
            voicing = _voice(chord, prev_voicing, 52 if power else 60, power)
            prev_voicing = voicing
            for onset, dur, which in _comp_hits(comp, beats, chord_bars, chord_start, rng):
                pitches = voicing if which < 0 else [sorted(voicing + [voicing[0] + 12])[which % (len(voicing) + 1)]]
                for p in pitches:
                    score["chords"].append((p, t0 + onset, dur, vel - 12))
            if "bass" in programs:
                nxt = _chord(key.pitch_class, scale, next_degree, sevenths=False)
                for p, onset, dur in _bass_notes(bassline, chord, nxt, scale, key.pitch_class, beats, b, chord_bars):
                    score["bass"].append((p, t0 + onset, dur, vel - 2))
            if "melody" in programs and name != "intro":
                last_of_phrase = b % 4 == 3 or b == n_bars - 1
                for p, onset, dur in _melody_bar(
                    rng,
                    motifs[name],
                    chord,
                    key.pitch_class,
                    scale,
                    prev_melody,
                    beats,
                    last_of_phrase,
                    _MELODY_CENTRE.get(programs["melody"], 72),
                ):
                    score["melody"].append((p, t0 + onset, dur, vel + 6))
                    prev_melody = p
            if has_drums and not (name == "intro" and si == 0 and rng.random() < 0.6):
                fill = b == n_bars - 1 and si < len(sections) - 1 and rng.random() < 0.6
                for p, step, v in _drum_bar(drum_kit, beats, fill, crash=b == 0 and si > 0):
                    score["drums"].append((p, t0 + step / 4.0, 0.2, int(v * vel / 88)))

    jitter = 0.0 if style_name in ("chiptune", "dance") else 0.006
    to_s = _time_map(beat_s, swing)
    parts: list[Part] = []
    volumes = {"melody": 110, "chords": 80, "bass": 100, "drums": 96}
    for role, events in score.items():
        if not events:
            continue
        notes = []
        for p, start_beat, dur_beat, v in events:
            start = max(0.0, to_s(start_beat) + rng.gauss(0.0, jitter))
            if start >= duration:
                continue
            end = min(to_s(start_beat + dur_beat), duration)
            velocity = max(1, min(127, v + rng.randint(-6, 6)))
            if end > start + 0.01:
                notes.append(Note(p, round(start, 5), round(end, 5), velocity))
        program = 0 if role == "drums" else programs[role]
        parts.append(Part(role, program, role == "drums", volumes[role], tuple(notes)))

    section_labels = tuple(
        Section(
            name,
            round(min(first * beats * beat_s, duration), 3),
            round(min((first + n) * beats * beat_s, duration), 3),
            dyn,
        )
        for name, first, n, dyn in sections
        if first * beats * beat_s < duration
    )
    first_prog = progressions[sections[0][0]]
    labels = Labels(
        seed=seed,
        style=style_name,
        mood=mood,
        bpm=bpm,
        key=key.name,
        time_signature=f"{beats}/4",
        duration=round(duration, 3),
        instruments={r: INSTRUMENTS[p][0] for r, p in sorted(programs.items())},
        programs=dict(sorted(programs.items())),
        has_drums=has_drums,
        progression="-".join(_roman(d, key.mode) for d in first_prog),
        swing=swing,
        reverb=reverb,
        sections=section_labels,
    )
    return Piece(labels, tuple(parts))


def _form(rng: random.Random, bars: int, loud: int) -> list[tuple[str, int, int, str]]:
    """Sections as (name, first bar, bars, dynamic), covering `bars` bars."""
    out: list[tuple[str, int, int, str]] = []
    bar = 0
    if rng.random() < 0.4:
        n = 2 if bars < 10 else 4
        out.append(("intro", 0, n, "p"))
        bar = n
    name = "verse"
    while bar < bars:
        n = min(4 if rng.random() < 0.7 else 8, bars - bar)
        out.append((name, bar, n, {"verse": "mf", "chorus": "f", "bridge": "mp"}[name]))
        bar += n
        if name == "verse":
            name = "chorus" if rng.random() < 0.6 else "verse"
        elif name == "chorus":
            name = "bridge" if rng.random() < 0.25 else "verse"
        else:
            name = "chorus"
    shifted = []
    for i, (name, first, n, dyn) in enumerate(out):
        level = max(0, min(len(DYNAMICS) - 1, DYNAMICS.index(dyn) + loud + rng.choice((-1, 0, 0, 1))))
        swell = i + 1 < len(out) and out[i + 1][0] == "chorus" and rng.random() < 0.4
        shifted.append((name, first, n, DYNAMICS[level] + ("<" if swell else "")))
    return shifted


def _roman(degree: int, mode: str) -> str:
    d = abs(degree)
    minor_chord = SCALES[mode][(d + 2) % 7] - SCALES[mode][d] + (12 if d + 2 >= 7 else 0) == 3 and degree >= 0
    return _ROMAN[d].lower() if minor_chord else _ROMAN[d]


def _chord(tonic: int, scale: tuple[int, ...], degree: int, sevenths: bool) -> list[int]:
    """Pitch classes of the diatonic chord on `degree` (root first); a negative degree is the major V of minor."""
    d = abs(degree)
    tones = [(tonic + scale[(d + i) % 7]) % 12 for i in (0, 2, 4, 6)[: 4 if sevenths else 3]]
    if degree < 0:  # harmonic minor: raise the third of v (the leading tone)
        tones[1] = (tones[0] + 4) % 12
    return tones


def _voice(pcs: list[int], prev: list[int], centre: int, power: bool) -> list[int]:
    """A close voicing of the pitch classes near `centre`, the inversion nearest the previous voicing."""
    if power:
        root = centre - 6 + (pcs[0] - (centre - 6)) % 12
        return [root, root + 7, root + 12]
    target = sum(prev) / len(prev) if prev else centre
    best: list[int] = []
    for k in range(len(pcs)):
        order = pcs[k:] + pcs[:k]
        low = centre - 7 + (order[0] - (centre - 7)) % 12
        voicing = [low]
        for pc in order[1:]:
            voicing.append(voicing[-1] + (pc - voicing[-1]) % 12)
        if not best or abs(sum(voicing) / len(voicing) - target) < abs(sum(best) / len(best) - target):
            best = voicing
    return best


def _comp_hits(
    comp: str, beats: int, chord_bars: int, chord_start: bool, rng: random.Random
) -> list[tuple[float, float, int]]:
    """Chord onsets within a bar as (beat, length in beats, tone index or -1 for the whole chord)."""
    if comp == "sustain":
        return [(0.0, beats * chord_bars - 0.05, -1)] if chord_start else []
    if comp == "block":
        step = 1 if beats == 3 else 2
        return [(float(b), step - 0.1, -1) for b in range(0, beats, step)]
    if comp == "oompah":
        return [(float(b), 0.7, -1) for b in range(1, beats)] if beats == 3 else [(1.0, 0.7, -1), (3.0, 0.7, -1)]
    if comp == "offbeat":
        return [(b + 0.5, 0.35, -1) for b in range(beats)]
    if comp in ("arp8", "arp16"):
        div = 2 if comp == "arp8" else 4
        order = [0, 1, 2, 3, 2, 1] if comp == "arp8" else [0, 1, 2, 3]
        return [(i / div, 1.0 / div, order[i % len(order)]) for i in range(beats * div)]
    if comp == "power8" or comp == "strum":
        return [(i / 2, 0.45, -1) for i in range(beats * 2)]
    if comp == "comp":
        choices = [0.0, 1.5, 2.5, 3.0] if beats == 4 else [0.0, 1.5, 2.0]
        hits = sorted(h for h in choices if h == 0.0 or rng.random() < 0.5)
        return [(h, 0.6, -1) for h in hits]
    raise AssertionError(f"unknown comp pattern {comp}")


def _bass_notes(
    pattern: str,
    chord: list[int],
    nxt: list[int],
    scale: tuple[int, ...],
    tonic: int,
    beats: int,
    bar: int,
    chord_bars: int,
) -> list[tuple[int, float, float]]:
    """Bass notes of one bar as (pitch, beat, length in beats), rooted between E2 and D#3."""
    root = 40 + (chord[0] - 40) % 12
    fifth = root + (chord[2] - chord[0]) % 12
    if pattern == "whole":
        return [(root, 0.0, beats * chord_bars - 0.1)] if bar % chord_bars == 0 else []
    if pattern == "quarters":
        return [(root, float(b), 0.9) for b in range(beats)]
    if pattern == "root_fifth":
        return (
            [(root, 0.0, 1.9), (fifth - 12 if fifth - 12 >= 28 else fifth, 2.0, 1.9)]
            if beats == 4
            else [(root, 0.0, 2.9)]
        )
    if pattern == "waltz":
        return [(root if bar % 2 == 0 else (fifth - 12 if fifth - 12 >= 28 else fifth), 0.0, 0.9)]
    if pattern == "eighths":
        return [(root, i / 2, 0.45) for i in range(beats * 2)]
    if pattern == "octave":
        return [(root + 12 * (i % 2), i / 2, 0.45) for i in range(beats * 2)]
    if pattern == "offbeat":
        return [(root, b + 0.5, 0.45) for b in range(beats)]
    if pattern == "walking":
        target = 40 + (nxt[0] - 40) % 12
        third = root + (chord[1] - chord[0]) % 12
        line = [root, third, fifth, target + (1 if target < fifth else -1)][:beats]
        if beats == 3:
            line = [root, fifth, target + (1 if target < fifth else -1)]
        return [(p, float(b), 0.9) for b, p in enumerate(line)]
    raise AssertionError(f"unknown bass pattern {pattern}")


def _motif(rng: random.Random, beats: int, density: float) -> list[tuple[float, float, int]]:
    """A one-bar rhythm with a melodic contour: (beat, length, scale-step move) per note; a move of 99 rests."""
    lengths = [2.0, 1.0, 1.0, 0.5, 0.5] if density < 0.9 else [1.0, 0.5, 0.5, 0.5, 1.5]
    if density > 1.4:
        lengths = [0.5, 0.5, 0.25, 0.25, 1.0]
    out: list[tuple[float, float, int]] = []
    t = 0.0
    while t < beats - 1e-6:
        length = min(rng.choice(lengths), beats - t)
        move = 99 if (t > 0 and rng.random() < 0.12) else rng.choice((-2, -1, -1, 0, 1, 1, 2, 3, -3))
        out.append((t, length, move))
        t += length
    return out


def _melody_bar(
    rng: random.Random,
    motif: list[tuple[float, float, int]],
    chord: list[int],
    tonic: int,
    scale: tuple[int, ...],
    prev: int,
    beats: int,
    cadence: bool,
    centre: int,
) -> list[tuple[int, float, float]]:
    """One bar of melody: the motif's rhythm and contour, strong beats pulled onto chord tones."""
    pitches = [p for p in range(centre - 10, centre + 11) if (p - tonic) % 12 in scale]
    chord_tones = [p for p in pitches if p % 12 in chord]
    out: list[tuple[int, float, float]] = []
    idx = min(range(len(pitches)), key=lambda i: abs(pitches[i] - prev))
    for onset, length, move in motif:
        if cadence and onset >= beats / 2:
            root = min((p for p in pitches if p % 12 == chord[0]), key=lambda p: abs(p - prev))
            out.append((root, onset, beats - onset - 0.05))
            break
        if move == 99:
            continue
        idx = max(0, min(len(pitches) - 1, idx + move + (rng.choice((-1, 1)) if rng.random() < 0.2 else 0)))
        p = pitches[idx]
        if onset == int(onset) and (onset == 0 or rng.random() < 0.6):
            p = min(chord_tones, key=lambda c: abs(c - p))
            idx = pitches.index(p)
        out.append((p, onset, length * 0.92))
        prev = p
    return out


def _drum_pattern(style: str, beats: int, rng: random.Random) -> dict[int, tuple[int, ...]]:
    if beats == 3:
        return DRUMS_34.get(style, DRUMS_34["default"])
    pattern = dict(DRUMS_44.get(style, DRUMS_44["rock"]))
    if style in ("rock", "lo-fi", "synthwave") and rng.random() < 0.5:
        pattern[36] = rng.choice(((0, 8), (0, 6, 8), (0, 3, 8, 11), (0, 10)))
    return pattern


def _drum_bar(pattern: dict[int, tuple[int, ...]], beats: int, fill: bool, crash: bool) -> list[tuple[int, int, int]]:
    """Drum hits of one bar as (GM note, 16th step, velocity); a fill replaces the last beat with snare 16ths."""
    steps = beats * 4
    hits = []
    for note, pos in pattern.items():
        for s in pos:
            if fill and s >= steps - 4 and note != 36:
                continue
            accent = 8 if s % 4 == 0 else (-8 if s % 2 else 0)
            hits.append((note, s, _DRUM_VELOCITY.get(note, 80) + accent))
    if fill:
        hits += [(38 if i % 2 == 0 else 45, steps - 4 + i, 70 + 8 * i) for i in range(4)]
    if crash:
        hits.append((49, 0, 100))
    return sorted(hits, key=lambda h: (h[1], h[0]))


def _time_map(beat_s: float, swing: float) -> Callable[[float], float]:
    """Beat position -> seconds, delaying offbeat eighths to `swing` of the beat."""

    def to_s(beat: float) -> float:
        whole = math.floor(beat)
        frac = beat - whole
        warped = frac / 0.5 * swing if frac <= 0.5 else swing + (frac - 0.5) / 0.5 * (1.0 - swing)
        return (whole + warped) * beat_s

    return to_s
