"""Export a trained checkpoint to the ONNX files the runtime (and the app) uses.

    python export_onnx.py --checkpoint runs/main/ckpt.pt --out engine/models

A thin entry point: the export and its parity check live in ``engine.training.export``
(callable from code as ``engine.training.export.export(checkpoint, out)``).
"""
from engine.training.export import main

if __name__ == "__main__":
    raise SystemExit(main())
