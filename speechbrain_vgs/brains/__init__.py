"""The project's Brains, one module per model family.

* :mod:`~speechbrain_vgs.brains.base`: what they share (the hparams
  contract, the train/valid/test outline, the computed schedule, retrieval
  evaluation).
* :class:`GroundingBrain`: DAVEnet / ResDAVEnet(-VQ) speech and image
  encoders.
* :class:`SpeechCLIPBrain`: SpeechCLIP (parallel, cascaded, hybrid).
* :class:`CLIPBrain`: an open_clip CLIP trained from scratch.
* :class:`HuBERTPretrainBrain`: HuBERT's masked prediction pre-training.
* :class:`KeywordSpottingBrain`: spoken bag-of-words networks trained on
  visual tags, evaluated as keyword spotters.
* :class:`CTCBrain`: CTC phone or character recognisers over any speech
  features (e.g. a grounding model's layer).
"""

from speechbrain_vgs.brains.asr import CTCBrain
from speechbrain_vgs.brains.base import (
    BEST_KEY,
    HparamsError,
    RetrievalBrain,
    VGSBrain,
)
from speechbrain_vgs.brains.clip import CLIPBrain
from speechbrain_vgs.brains.grounding import GroundingBrain
from speechbrain_vgs.brains.hubert import HuBERTPretrainBrain
from speechbrain_vgs.brains.kws import KeywordSpottingBrain
from speechbrain_vgs.brains.speechclip import SpeechCLIPBrain

__all__ = [
    "BEST_KEY",
    "CLIPBrain",
    "CTCBrain",
    "GroundingBrain",
    "HparamsError",
    "HuBERTPretrainBrain",
    "KeywordSpottingBrain",
    "RetrievalBrain",
    "SpeechCLIPBrain",
    "VGSBrain",
]
