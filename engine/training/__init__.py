"""Training, export and evaluation: everything that needs the ``[train]`` extra (torch, librosa, MusPy).

- data: ``dataset`` (images.csv / midi.csv by path), ``beats`` (beat tracking and quantization),
  ``pairing`` (image-MIDI pairs by VA), ``sequences`` (token windows), ``data_report``
- model: ``backbones`` (pretrained CNNs), ``feature_cache``, ``model`` (the paper's
  CNN-Transformer and the LSTM baseline), ``va_estimator`` (the VA loss's music-VA model)
- ``train`` (the loop; ``args`` its flags), ``judge_fit`` (fits ``engine.music.judge``)
- ``torch_backend`` (checkpoints, PyTorch encoder and decoder steps), ``export`` (→ ONNX with a
  parity check; ``export_onnx.py`` at the top level is its entry point)
- ``evaluate`` and ``metrics`` (docs/RESULTS.md)

The product (``engine``) never needs this package (``synesthete bench`` loads ``torch_backend`` for its
optional PyTorch column when torch is installed); this package uses the product's tokens,
keys, sampler and runtime, so training, evaluation and the app make music the same way.
Importing the package itself loads nothing heavy.
"""
__all__ = ["args", "backbones", "beats", "data_report", "dataset", "evaluate", "export", "feature_cache",
           "judge_fit", "metrics", "model", "pairing", "sequences", "torch_backend", "train", "va_estimator"]
