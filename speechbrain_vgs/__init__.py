"""speechbrain-vgs: visually grounded speech models for SpeechBrain."""

__version__ = "0.1.0"
