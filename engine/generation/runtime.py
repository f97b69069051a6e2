"""The product's inference path: ONNX Runtime sessions + numpy sampling. Never imports torch.

    rt = Runtime.load()                           # the shipped model (engine/models/)
    enc = rt.encode("photo.jpg")                  # Encoding: image memory + the VA it reads
    plan = rt.plan(GenerationSettings(bars=8, seed=1), [enc])   # the request, resolved once
    for note in rt.stream_notes(plan):
        ...                                       # NoteEvents, as soon as each is sampled
    piece = rt.piece(plan)                        # a whole Piece
    piece = rt.compose(GenerationSettings(seed=2), enc, VA(0.5, -0.3))   # research shorthand

The runtime keeps no state between calls: an ``Encoding`` is a value the caller holds, so N
variations of one picture share one encoding. Providers: CUDA when onnxruntime-gpu finds a
working GPU, else CPU; at most one warning line when CUDA is present but unusable. Sessions
are created once and may serve several generations at a time (each has its own KV cache).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import ModelError
from ..events import VA, NoteEvent, Steer
from ..files.outputs import ENV_MODEL_DIR, MODEL_DIR
from ..picture import calibration
from ..picture.image_stats import VAHead
from ..picture.images import load_image, preprocess
from ..request import Piece, Plan, make_plan
from ..settings import GenerationSettings
from .compose import compose, compose_notes
from .controls import Controls

__all__ = ["Runtime", "Encoding", "ModelError", "OrtStepper", "MODEL_DIR", "MODEL_VERSION", "sha256_file"]

log = logging.getLogger("synesthete")
MODEL_VERSION = 2  # 2: the per-piece cross-attention K/V moved to decoder_prep.onnx


@dataclass(frozen=True)
class Encoding:
    """What the image encoder makes of one picture: the decoder's memory and the VA it reads."""

    memory: np.ndarray
    va: VA                 # the image head's VA, calibrated to the labels' scale, clipped to the plane
    image: str | None = None
    raw_va: VA | None = None  # before calibration


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _quiet_ort():
    import onnxruntime as ort

    ort.set_default_logger_severity(3)
    return ort


_CUDA_OK: bool | None = None


def cuda_usable() -> bool:
    """Whether the CUDA provider can run here, decided once, quietly.

    onnxruntime-gpu lists CUDA as available even with no GPU or no CUDA libraries, then
    prints a wall of errors when a session tries it. So: no NVIDIA device → CPU, silently;
    a device → try a tiny session with CUDA once, logs muted, and warn in one line if it fails.
    """
    global _CUDA_OK
    if _CUDA_OK is not None:
        return _CUDA_OK
    ort = _quiet_ort()
    _CUDA_OK = False
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    if not (os.path.exists("/dev/nvidia0") or os.path.exists("/proc/driver/nvidia/version") or os.name == "nt"):
        return False
    try:
        ort.set_default_logger_severity(4)
        probe = MODEL_DIR / "decoder_step.onnx"
        so = ort.SessionOptions()
        so.log_severity_level = 4
        sess = ort.InferenceSession(str(probe), so, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
        _CUDA_OK = sess.get_providers()[0] == "CUDAExecutionProvider"
    except Exception:  # noqa: BLE001
        _CUDA_OK = False
    finally:
        ort.set_default_logger_severity(3)
    if not _CUDA_OK:
        log.warning("an NVIDIA GPU is present but onnxruntime cannot use it (CUDA/cuDNN libraries missing?); running on CPU")
    return _CUDA_OK


def make_session(path: Path, providers: list[str] | None = None, threads: int | None = None):
    """An InferenceSession on the best provider; returns (session, provider name)."""
    ort = _quiet_ort()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
    wanted = providers or (["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda_usable() else ["CPUExecutionProvider"])
    try:
        sess = ort.InferenceSession(str(path), so, providers=wanted)
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own zoo of types
        raise ModelError(f"{path}: cannot load ONNX model ({str(e).splitlines()[0][:160]})") from None
    return sess, sess.get_providers()[0]


class OrtStepper:
    """Decoder steps through ``decoder_step.onnx``; the per-piece part (VA embedding,
    cross-attention K/V) runs once through ``decoder_prep.onnx``.

    The KV cache stays in onnxruntime's own tensors between steps (I/O binding), so only the
    logits cross into numpy: with a 400-token context this took a step from 0.82 to 0.53 ms.
    """

    def __init__(self, prep, session, memory: np.ndarray, va: np.ndarray, config,
                 controls: Controls | None = None, offset: np.ndarray | None = None) -> None:
        import onnxruntime as ort

        self._ort = ort
        self.sess, self.prep = session, prep
        self.memory = memory
        # a decoder trained with controls hears density and touch: the map's for each VA plus
        # this piece's own offset, kept through every retarget (engine.generation.controls)
        self.controls, self.offset = controls, offset
        if ("controls" in [i.name for i in prep.get_inputs()]) != (controls is not None):
            raise ModelError("the decoder's controls and the sidecar's disagree (re-export the model)")
        self.retarget(va)
        cfg = config if isinstance(config, dict) else config.to_dict()
        self.block_size = cfg["block_size"]
        self.shape = (cfg["n_dec_layers"], 1, cfg["n_heads"], 0, cfg["d_model"] // cfg["n_heads"])
        self.device = "cuda" if session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        self.reset()

    def retarget(self, va, memory: np.ndarray | None = None) -> None:
        """Condition what follows on ``va`` (and another picture's ``memory``): the tokens already
        in the context keep theirs, so the music turns from here on (bar-level steering)."""
        if memory is not None:
            self.memory = memory
        va = np.asarray(va, np.float32).reshape(1, 2)
        feed = {"memory": self.memory.astype(np.float32), "va": va}
        if self.controls is not None:
            feed["controls"] = self.controls(va, self.offset)
        fixed = self.prep.run(None, feed)
        self.fixed = {k: self._ort.OrtValue.ortvalue_from_numpy(v) for k, v in zip(("va_emb", "cross_k", "cross_v"), fixed)}

    def reset(self) -> None:
        empty = np.zeros(self.shape, np.float32)
        self.k = self._ort.OrtValue.ortvalue_from_numpy(empty)
        self.v = self._ort.OrtValue.ortvalue_from_numpy(empty.copy())

    def step(self, token: int, pos: int) -> np.ndarray:
        io = self.sess.io_binding()
        io.bind_cpu_input("token", np.array([[token]], np.int64))
        io.bind_cpu_input("pos", np.array([pos], np.int64))
        for name, value in self.fixed.items():
            io.bind_ortvalue_input(name, value)
        io.bind_ortvalue_input("past_k", self.k)
        io.bind_ortvalue_input("past_v", self.v)
        io.bind_output("logits", "cpu")
        io.bind_output("new_k", self.device)
        io.bind_output("new_v", self.device)
        self.sess.run_with_iobinding(io)
        logits, self.k, self.v = io.get_outputs()
        return logits.numpy()[0]


class Runtime:
    def __init__(self, model_dir: Path, encoder, prep, decoder, sidecar: dict, provider: str) -> None:
        self.model_dir, self.encoder, self.prep, self.decoder, self.sidecar, self.provider = model_dir, encoder, prep, decoder, sidecar, provider
        self.config = sidecar["model_config"]
        pre = sidecar["preprocess"]
        self.size, self.mean, self.std = pre["size"], tuple(pre["mean"]), tuple(pre["std"])
        self.calibration = sidecar.get("calibration")  # image VA → the labels' scale (engine.picture.calibration)
        # a ridge head over pooled backbone features, memory and colour statistics, where the sidecar ships one
        self.va_head = VAHead(sidecar["va_head"]) if sidecar.get("va_head") else None
        self.controls = Controls(sidecar["controls"]) if sidecar.get("controls") else None
        self._judge = None

    @classmethod
    def load(cls, model_dir: str | os.PathLike | None = None, providers: list[str] | None = None, threads: int | None = None, verify: bool = True) -> "Runtime":
        d = Path(model_dir or os.environ.get(ENV_MODEL_DIR) or MODEL_DIR)
        side_p = d / "synesthete.json"
        if not side_p.is_file():
            raise ModelError(f"{side_p}: model sidecar missing (reinstall Synesthete, or point --model-dir at an export_onnx.py output)")
        try:
            side = json.loads(side_p.read_text())
            version = side["model_version"]
            files = side["files"]
        except (ValueError, KeyError, TypeError):
            raise ModelError(f"{side_p}: model sidecar is corrupt") from None
        if version != MODEL_VERSION:
            raise ModelError(f"{side_p}: model version {version} is not supported by this Synesthete (needs {MODEL_VERSION}); re-export the model")
        from . import tokens as T

        if side.get("vocab") != T.VOCAB:
            raise ModelError(f"{side_p}: the model's vocabulary differs from this version's tokens; re-export the model")
        if side.get("calibration") is not None:
            try:
                calibration.check(side["calibration"])
            except ValueError as e:
                raise ModelError(f"{side_p}: {e}; fit it again (python -m engine.training.calibrate)") from None
        head = None
        if side.get("va_head") is not None:
            try:
                head = VAHead(side["va_head"])
            except ValueError as e:
                raise ModelError(f"{side_p}: {e}; fit it again (python -m engine.training.va_head --ship)") from None
        if side.get("controls") is not None:
            try:
                Controls(side["controls"])
            except ValueError as e:
                raise ModelError(f"{side_p}: {e}; re-export the model") from None
        for name in ("image_encoder.onnx", "decoder_prep.onnx", "decoder_step.onnx"):
            f = d / name
            if not f.is_file():
                raise ModelError(f"{f}: model file missing")
            meta = files.get(name, {})
            if f.stat().st_size != meta.get("bytes"):
                raise ModelError(f"{f}: size {f.stat().st_size} differs from the sidecar's {meta.get('bytes')} (truncated or replaced file)")
            if verify and sha256_file(f) != meta.get("sha256"):
                raise ModelError(f"{f}: checksum differs from the sidecar's (corrupt or replaced file)")
        enc, provider = make_session(d / "image_encoder.onnx", providers, threads)
        missing = [n for n in (head.encoder_outputs if head is not None else []) if n not in [o.name for o in enc.get_outputs()]]
        if missing:
            raise ModelError(f"{side_p}: its VA head reads the image encoder's {missing[0]!r} output, which {d / 'image_encoder.onnx'} does not give; "
                             "re-export the model or fit the head again (python -m engine.training.va_head --ship)")
        # One token step is ~100 tiny ops: a second thread costs more in hand-offs than it
        # saves (measured 0.95 vs 2.0 ms/step on 2 cores), so the decoder runs single-threaded.
        prep, _ = make_session(d / "decoder_prep.onnx", providers, 1)
        if ("controls" in [i.name for i in prep.get_inputs()]) != (side.get("controls") is not None):
            raise ModelError(f"{side_p}: its controls do not match {d / 'decoder_prep.onnx'} (re-export the model)")
        dec, _ = make_session(d / "decoder_step.onnx", providers, 1)
        log.info("onnxruntime provider: %s", provider)
        return cls(d, enc, prep, dec, side, provider)

    # --- image → encoding → notes ------------------------------------------------------

    def encode(self, image, label: str | None = None) -> Encoding:
        """Image path or PIL image → Encoding. Raises ImageError on bad input."""
        if isinstance(image, (str, os.PathLike)):
            label = label or Path(image).name
            image = load_image(image)
        out = self.encoder_outputs(image)
        memory, va = out["memory"], out["va"]
        if self.va_head is not None:
            va = [self.va_head(out, image)]
        raw = calibration.apply(None, va[0][0], va[0][1])
        return Encoding(memory, calibration.apply(self.calibration, va[0][0], va[0][1]), label, raw)

    def encoder_outputs(self, image) -> dict[str, np.ndarray]:
        """Every output of the image encoder for a PIL picture, by name (memory, va, pooled, ...)."""
        x = preprocess(image, self.size, self.mean, self.std)
        return dict(zip([o.name for o in self.encoder.get_outputs()], self.encoder.run(None, {"image": x})))

    def image_va(self, image) -> VA:
        return self.encode(image).va

    def blank(self) -> Encoding:
        """No picture: an all-zero memory at the plane's centre (music from VA alone)."""
        return Encoding(np.zeros((1, self.config["feat_tokens"], self.config["d_model"]), np.float32), VA(0.0, 0.0))

    def control_offset(self, settings: GenerationSettings | None) -> np.ndarray | None:
        """The piece's own density/touch offset (``settings.variety`` from its seed); None for a
        decoder without controls."""
        if self.controls is None:
            return None
        return self.controls.offset(settings.seed, settings.variety) if settings is not None else None

    def stepper(self, encoding: Encoding, target: VA, settings: GenerationSettings | None = None) -> OrtStepper:
        """Decoder steps for ``encoding`` aimed at ``target``; ``settings`` (seed, variety) give the
        piece its own density and touch around the map (none: the map's exactly)."""
        return OrtStepper(self.prep, self.decoder, encoding.memory, np.array([target.valence, target.arousal]), self.config,
                          self.controls, self.control_offset(settings))

    def plan(self, settings: GenerationSettings, encodings=(), **request) -> Plan:
        """The request resolved once (``engine.request.make_plan``), with this model's window and id:
        ``va``, ``primer``, ``tempo`` (a clock that rules) and ``include_primer`` as keywords."""
        return make_plan(settings, encodings, model=self.model_id, window=self.config["block_size"], **request)

    def stream_notes(self, plan: Plan, tokens_out: list | None = None, *, steer: Steer | None = None) -> Iterator[NoteEvent]:
        """Notes of the planned piece as they are sampled, in its key; ``steer`` (live) re-aims each
        bar, else the plan's own steering (several pictures) does."""
        encoding = plan.encoding if plan.encoding is not None else self.blank()
        return compose_notes(lambda va: self.stepper(encoding, va, plan.settings), plan.settings, plan.target,
                             tokens_out, steer=steer or plan.steer, prime=plan.prime)

    def piece(self, plan: Plan) -> Piece:
        """The planned piece, whole (``generate``)."""
        encoding = plan.encoding if plan.encoding is not None else self.blank()
        return compose(lambda va: self.stepper(encoding, va, plan.settings), plan)

    def revise(self, settings: GenerationSettings, encodings, notes, first_bar: int, last_bar: int, **kw):
        """Bars ``first_bar``..``last_bar`` of ``notes`` rewritten, the rest kept
        (``engine.generation.revise.revise``; keywords ``va``, ``takes``, ``tempo``)."""
        from .revise import revise

        return revise(self, settings, encodings, notes, first_bar, last_bar, **kw)

    # research shorthands: one picture, one target, the plan made here
    def notes(self, settings: GenerationSettings, encoding: Encoding, target: VA | None = None,
              tokens_out: list | None = None) -> Iterator[NoteEvent]:
        """``stream_notes`` of the plan for ``encoding`` aimed at ``target`` (default: its VA)."""
        return self.stream_notes(self.plan(settings, [encoding], va=target), tokens_out)

    def compose(self, settings: GenerationSettings, encoding: Encoding, target: VA | None = None) -> Piece:
        """``piece`` of the plan for ``encoding`` aimed at ``target`` (default: its VA)."""
        return self.piece(self.plan(settings, [encoding], va=target))

    @property
    def model_id(self) -> str | None:
        """Which model made a piece (stored in its metadata): the training data's hash and the
        decoder's checksum, since two runs on the same data differ only in their weights."""
        data = self.sidecar.get("training", {}).get("data_hash")
        weights = self.sidecar.get("files", {}).get("decoder_step.onnx", {}).get("sha256", "")[:8]
        return f"{data}-{weights}" if data and weights else data

    @property
    def judge(self):
        if self._judge is None:
            from ..music.judge import Judge

            self._judge = Judge.load()
        return self._judge
