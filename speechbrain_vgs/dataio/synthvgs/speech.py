"""SynthVGS speech: speakers, espeak-ng / flite synthesis, phone transcripts.

A *speaker* is a fixed combination (engine, voice, variant, rate, pitch):

- espeak-ng, every language: the language's voices (English: 8 dialects
  en-us, en-gb, en-gb-scotland, en-gb-x-rp, en-029, en-us-nyc,
  en-gb-x-gbclan, en-gb-x-gbcwmd; German: de; Swahili: sw) with a voice
  variant (the *timbre*: m1-m8, f1-f5, klatt, Andy, Annie, ...), rate
  150-195 words per minute (``-s``) and pitch 30-70 (``-p``);
- flite, English only: the voices kal, kal16, awb, rms and slt with a
  duration stretch of 0.9-1.15.

Sex: a speaker's ``sex`` ("m", "f" or None) is the voice's own where the
voice defines it (:data:`VOICE_SEX`): the ``gender`` line of an espeak-ng
variant file (m1-m8, Andy, travis male; f1-f5, Annie, aunty, linda, steph
female; klatt, klatt3, adam, benjamin, david, ed, edward, max, paul and
robert say nothing) and the CMU voice of flite (kal, kal16, awb, rms male;
slt female). English has 11 male, 5 female and 7 unknown timbres in train
(22, 10 and 14 speakers), 2/2/1 in valid and 1/3/2 in test; see
:func:`speakers_by_sex`.

Train, valid and test are speaker-disjoint, and more: the timbres (espeak
variants and flite voices) are split between them
(:data:`ESPEAK_TIMBRES`, :data:`FLITE_VOICES`), so no test voice quality is
ever heard in training, in any language. Each timbre gives two speakers per
language (different dialect, rate and pitch).

Audio: the synthesiser's wav (espeak-ng 22.05 kHz, flite kal 8 kHz, the
others 16 kHz) is resampled to 16 kHz with ``scipy.signal.resample_poly``,
peak-normalised to :data:`PEAK` (-6 dBFS, leaving room for the test-set
noise) and stored as mono PCM16.

Phones: espeak-ng phoneme mnemonics (``-x --sep=" "``) of what the voice
said, with stress marks (', ,, %), pauses (_, _:, _!) and link marks (;)
removed: one phone
inventory per language (espeak-ng's phoneme table of that language; the
English dialects share the English table). espeak-ng prints them during the
same call that renders the audio. For flite speakers, whose own phone set is
different, the phones are espeak-ng's en-us transcription of the same text,
so an English phone recogniser sees one phone set.

Authors
 * speechbrain-vgs developers 2026
"""

import functools
import math
import os
import shutil
import subprocess

import numpy as np
import soundfile as sf
from scipy.signal import firwin, resample_poly

from speechbrain_vgs.dataio.pipelines import SAMPLE_RATE

PEAK = 0.5
ENGLISH_DIALECTS = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-us-nyc",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
)
ESPEAK_VOICES = {"en": ENGLISH_DIALECTS, "de": ("de",), "sw": ("sw",)}
ESPEAK_TIMBRES = {
    "train": (
        "m1",
        "m2",
        "m3",
        "m4",
        "m5",
        "m8",
        "f1",
        "f2",
        "f5",
        "klatt",
        "Andy",
        "Annie",
        "adam",
        "benjamin",
        "david",
        "ed",
        "edward",
        "travis",
        "aunty",
        "max",
    ),
    "valid": ("m6", "f3", "paul", "linda"),
    "test": ("m7", "f4", "robert", "steph", "klatt3"),
}
FLITE_VOICES = {"train": ("kal", "kal16", "awb"), "valid": ("rms",)}
FLITE_VOICES["test"] = ("slt",)
# The sex a voice defines: espeak-ng variants with a "gender" line, flite's
# CMU voices (kal/kal16: Kal diphone, awb/rms: CMU ARCTIC male, slt: female).
VOICE_SEX = {
    **dict.fromkeys(("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"), "m"),
    **dict.fromkeys(("Andy", "travis"), "m"),
    **dict.fromkeys(("f1", "f2", "f3", "f4", "f5"), "f"),
    **dict.fromkeys(("Annie", "aunty", "linda", "steph"), "f"),
    **dict.fromkeys(("kal", "kal16", "awb", "rms"), "m"),
    "slt": "f",
}
SPEAKERS_PER_TIMBRE = 2
RATE_RANGE = (150, 195)  # espeak-ng words per minute
PITCH_RANGE = (30, 70)  # espeak-ng pitch, 0-99
STRETCH_RANGE = (0.9, 1.15)  # flite duration_stretch
DEBIAN_PACKAGES = {"espeak-ng": "espeak-ng", "flite": "flite"}


class SynthesiserMissing(RuntimeError):
    """A speech synthesiser SynthVGS needs is not installed."""


def check_synthesisers(langs):
    """Raises :class:`SynthesiserMissing` naming the Debian package to install.

    espeak-ng is needed for every language, flite for English.

    Example
    -------
    >>> check_synthesisers(("en", "sw"))
    """
    needed = ["espeak-ng"] + (["flite"] if "en" in langs else [])
    for program in needed:
        if shutil.which(program) is None:
            package = DEBIAN_PACKAGES[program]
            raise SynthesiserMissing(
                f"{program} is not installed (not found on PATH); SynthVGS "
                f"needs it: install it with `apt-get install {package}` "
                f"(Debian package {package})"
            )


def make_speakers(lang, split, seed):
    """The speakers of one language and split, as a list of dicts.

    Arguments
    ---------
    lang : str
        "en", "de" or "sw".
    split : str
        "train", "valid" or "test": selects the timbres.
    seed : int
        Global seed (dialect, rate and pitch are drawn from it).

    Returns
    -------
    list of dict
        ``{"id", "lang", "split", "engine", "voice", "variant", "rate",
        "pitch", "sex"}``; for flite, ``rate`` is the duration stretch and
        pitch is 0 (the voice's own); ``sex`` is "m", "f" or None
        (:data:`VOICE_SEX`).

    Example
    -------
    >>> speakers = make_speakers("sw", "test", 1)
    >>> len(speakers), speakers[0]["engine"], speakers[0]["voice"]
    (10, 'espeak-ng', 'sw')
    >>> [s["sex"] for s in speakers[:4]]
    ['m', 'm', 'f', 'f']
    """
    split_index = ("train", "valid", "test").index(split)
    lang_index = ("en", "de", "sw").index(lang)
    rng = np.random.default_rng([seed, 101, lang_index, split_index])
    speakers = []
    for timbre in ESPEAK_TIMBRES[split]:
        for _ in range(SPEAKERS_PER_TIMBRE):
            voice = str(rng.choice(ESPEAK_VOICES[lang]))
            rate = int(rng.integers(RATE_RANGE[0], RATE_RANGE[1] + 1))
            pitch = int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))
            speakers.append(
                {
                    "id": f"{lang}_espeak_{voice}_{timbre}_r{rate}_p{pitch}",
                    "lang": lang,
                    "split": split,
                    "engine": "espeak-ng",
                    "voice": voice,
                    "variant": timbre,
                    "rate": rate,
                    "pitch": pitch,
                    "sex": VOICE_SEX.get(timbre),
                }
            )
    if lang == "en":
        for voice in FLITE_VOICES[split]:
            for _ in range(SPEAKERS_PER_TIMBRE):
                stretch = round(float(rng.uniform(*STRETCH_RANGE)), 2)
                speakers.append(
                    {
                        "id": f"en_flite_{voice}_x{stretch:.2f}",
                        "lang": lang,
                        "split": split,
                        "engine": "flite",
                        "voice": voice,
                        "variant": "",
                        "rate": stretch,
                        "pitch": 0,
                        "sex": VOICE_SEX[voice],
                    }
                )
    return speakers


def speakers_by_sex(lang, split, seed=0):
    """How many speakers of a language and split are male, female and of
    unknown sex.

    Example
    -------
    >>> speakers_by_sex("en", "train"), speakers_by_sex("en", "test")
    ({'m': 22, 'f': 10, None: 14}, {'m': 2, 'f': 6, None: 4})
    """
    counts = {"m": 0, "f": 0, None: 0}
    for speaker in make_speakers(lang, split, seed):
        counts[speaker["sex"]] += 1
    return counts


def clean_phones(raw):
    """Turns espeak-ng ``-x --sep=" "`` output into space-separated phones.

    Stress marks are dropped and pause/boundary tokens removed.

    Example
    -------
    >>> clean_phones("a#  b 'I g ;  r 'E d _!  s ,3: k @L\\n")
    'a# b I g r E d s 3: k @L'
    """
    phones = []
    for token in raw.split():
        token = token.replace("'", "").replace(",", "").replace("%", "")
        if token not in ("", ";") and not token.startswith(("_", "(")):
            phones.append(token)
    return " ".join(phones)


def _run(command):
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"{command[0]} failed ({result.returncode}): {result.stderr}"
        )
    return result.stdout


def espeak_phones(text, voice):
    """espeak-ng's phones for ``text`` read by ``voice``, without audio.

    Example
    -------
    >>> espeak_phones("a red star", "en-us")
    'a# r E d s t A@'
    """
    command = ["espeak-ng", "-q", "-x", "--sep= ", "-v", voice, text]
    return clean_phones(_run(command))


@functools.lru_cache
def _resampling_filter(up, down):
    """The anti-aliasing FIR filter ``resample_poly`` designs by default,
    designed once (it costs as much as the resampling itself)."""
    rate = max(up, down)
    taps = firwin(20 * rate + 1, 1.0 / rate, window=("kaiser", 5.0))
    taps.setflags(write=False)
    return taps


def synthesise(text, speaker, path):
    """Renders ``text`` with ``speaker`` into a 16 kHz PCM16 wav at ``path``.

    Arguments
    ---------
    text : str
        What to say.
    speaker : dict
        A speaker from :func:`make_speakers`.
    path : str
        Where the wav goes (it is also the synthesiser's scratch file).

    Returns
    -------
    n_samples : int
        Length of the stored audio.
    phones : str
        Space-separated phones (see the module docstring).

    Example
    -------
    >>> speaker = make_speakers("en", "train", 0)[0]
    >>> path = str(getfixture("tmpdir") / "a.wav")
    >>> n, phones = synthesise("a red star", speaker, path)
    >>> sf.info(path).samplerate, n == sf.info(path).frames
    (16000, True)
    """
    if speaker["engine"] == "espeak-ng":
        command = ["espeak-ng", "-x", "--sep= ", "-w", path]
        command += ["-v", f"{speaker['voice']}+{speaker['variant']}"]
        command += ["-s", str(speaker["rate"]), "-p", str(speaker["pitch"])]
        phones = clean_phones(_run(command + [text]))
    else:
        command = ["flite", "-voice", speaker["voice"]]
        command += ["--setf", f"duration_stretch={speaker['rate']}"]
        _run(command + ["-t", text, "-o", path])
        phones = espeak_phones(text, "en-us")
    audio, rate = sf.read(path, dtype="float64")
    if rate != SAMPLE_RATE:
        common = math.gcd(rate, SAMPLE_RATE)
        up, down = SAMPLE_RATE // common, rate // common
        audio = resample_poly(
            audio, up, down, window=_resampling_filter(up, down)
        )
    audio *= PEAK / max(np.abs(audio).max(), 1e-9)
    write_wav(path, audio)
    return len(audio), phones


def write_wav(path, audio):
    """Writes float audio in [-1, 1] as 16 kHz mono PCM16 (clipping at 1).

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "b.wav")
    >>> write_wav(path, np.zeros(160))
    >>> sf.info(path).subtype
    'PCM_16'
    """
    pcm = np.round(np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    sf.write(path, pcm, SAMPLE_RATE, subtype="PCM_16")


def read_wav(path):
    """Reads a PCM16 wav as float64 in [-1, 1] (the inverse of write_wav).

    Example
    -------
    >>> path = str(getfixture("tmpdir") / "c.wav")
    >>> write_wav(path, np.full(4, 0.5))
    >>> read_wav(path).round(3).tolist()
    [0.5, 0.5, 0.5, 0.5]
    """
    pcm, _ = sf.read(path, dtype="int16")
    return pcm.astype(np.float64) / 32767
