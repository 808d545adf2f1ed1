"""Data preparation: manifests, corpus preparers and SynthVGS."""
