"""Installs speechbrain-vgs, visually grounded speech for SpeechBrain."""

from setuptools import find_packages, setup

setup(
    name="speechbrain-vgs",
    version="0.1.0",
    description="Visually grounded speech models for SpeechBrain",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["speechbrain_vgs", "speechbrain_vgs.*"]),
    install_requires=[
        "torch==2.14.1",
        "torchvision==0.29.1",
        "torchaudio==2.11.0",
        "speechbrain>=1.1.2,<1.2",
        "open_clip_torch==3.3.0",
        # 5.x: HuBERT Large's last hidden state is the last layer's output,
        # as fairseq's (4.x adds the final LayerNorm; see converters)
        "transformers>=5,<6",
        "hyperpyyaml",
        "sentencepiece",
        "soundfile",
        "pillow",
        "numpy",
        "scipy",
        "tqdm",
        "matplotlib",
    ],
    entry_points={
        "console_scripts": ["speechbrain-vgs = speechbrain_vgs.cli:main"],
    },
    extras_require={
        # the web demo (python -m speechbrain_vgs.app MODEL_FOLDER)
        "app": ["gradio"],
        # the tests drive Debian's chromium (make test installs it)
        "dev": ["pytest", "ruff", "scikit-learn", "gradio", "playwright"],
    },
)
