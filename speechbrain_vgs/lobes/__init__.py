"""Neural building blocks (plain ``nn.Module`` lobes)."""
