"""Valence and arousal → tokens → notes on the grid: the shipped model on ONNX Runtime (``runtime``),
the one compose loop every backend uses (``compose``), grammar-masked sampling (``sampling``), the
REMI-style tokens (``tokens``), and what conditions the decoder beside the VA: density and touch
(``controls``) and the per-bar arousal bias (``expression``)."""

__all__ = ["runtime", "compose", "sampling", "tokens", "controls", "expression"]
