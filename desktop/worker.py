"""The engine on one worker thread: load the model, read pictures, generate variations.

Shaped like Qt's mandelbrot example (STYLE.md §5): requests are stored under a mutex and a
newer one replaces the pending one; the thread sleeps on a wait condition when idle; results
come back through typed signals, so widgets are only touched on the GUI thread. The engine
itself stays Qt-free: this module only calls ``engine.runtime.Runtime``.

Cancellation is cooperative: each generation job has its own ``threading.Event``, checked
between notes, and the engine's note generator is closed explicitly so its lock is released
at once rather than whenever the garbage collector gets to it.
"""
from __future__ import annotations

import itertools
import math
import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QMutex, QMutexLocker, QThread, QWaitCondition, pyqtSignal
from PyQt6.QtGui import QImage

from engine.events import VA, NoteEvent
from engine.images import ImageError, load_image, load_image_bytes
from engine.keys import key_name, resolve_key
from engine.runtime import GenerationSettings, Runtime

THUMB_PX = 640
STOP_WAIT_MS = 5000


def one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


@dataclass(frozen=True)
class ImageSource:
    """What the user gave us: a file, or pixels from the clipboard / a browser drag."""

    label: str
    path: Path | None = None
    qimage: QImage | None = None
    data: bytes | None = None


@dataclass
class Variation:
    index: int                      # generation order; 0 is the one that can stream
    settings: GenerationSettings
    target: VA
    key: str
    notes: list[NoteEvent]
    judged: VA | None = None
    rank: int = 0

    @property
    def fit(self) -> float:
        """Distance between the judge's VA and the target (0 = exactly what was asked)."""
        if self.judged is None:
            return math.inf
        return math.hypot(self.judged.valence - self.target.valence, self.judged.arousal - self.target.arousal)


@dataclass(frozen=True)
class GenerationJob:
    settings: tuple[GenerationSettings, ...]   # one per variation
    target: VA
    image: object | None = None                # PIL image; re-encoded per variation (see _generate)
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)


class NoteFeed:
    """A thread-safe, closable iterable of notes: the worker puts, the live player pulls.

    Lets Play start while the first variation is still being sampled; closing it (end of the
    variation, Cancel, Stop) ends the iteration so the player's producer thread never hangs.
    """

    _END = object()

    def __init__(self) -> None:
        self._q: queue.Queue = queue.Queue()
        self._closed = threading.Event()

    def put(self, note: NoteEvent) -> None:
        if not self._closed.is_set():
            self._q.put(note)

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._q.put(self._END)

    def __iter__(self) -> Iterator[NoteEvent]:
        while True:
            item = self._q.get()
            if item is self._END:
                return
            yield item


class EngineThread(QThread):
    ready = pyqtSignal(str)                        # onnxruntime provider
    loadFailed = pyqtSignal(str)
    imageReady = pyqtSignal(int, object, QImage, object)   # request id, VA, thumbnail, PIL image
    imageFailed = pyqtSignal(int, str)
    noteGenerated = pyqtSignal(int, object)        # job id, NoteEvent of variation 0
    progress = pyqtSignal(int, int)                # job id, percent of all variations
    variationReady = pyqtSignal(int, object)       # job id, Variation (unranked yet)
    generationFinished = pyqtSignal(int, object)   # job id, list[Variation] best first
    generationCancelled = pyqtSignal(int)
    generationFailed = pyqtSignal(int, str)

    def __init__(self, load_runtime: Callable[[], Runtime] = Runtime.load, parent=None) -> None:
        super().__init__(parent)
        self._load_runtime = load_runtime
        self._mutex = QMutex()
        self._cond = QWaitCondition()
        self._abort = False
        self._ids = itertools.count(1)
        self._image_req: tuple[int, ImageSource] | None = None
        self._gen_req: tuple[int, GenerationJob] | None = None
        self._current: tuple[int, GenerationJob] | None = None
        self._feed: NoteFeed | None = None
        self._first_notes: list[NoteEvent] = []
        self._first_done = True
        self.runtime: Runtime | None = None

    # --- requests (GUI thread) -----------------------------------------------------------
    def analyse_image(self, source: ImageSource) -> int:
        with QMutexLocker(self._mutex):
            rid = next(self._ids)
            self._image_req = (rid, source)  # a newer picture replaces one not yet read
            self._wake()
        return rid

    def generate(self, job: GenerationJob) -> int:
        with QMutexLocker(self._mutex):
            jid = next(self._ids)
            if self._current is not None:
                self._current[1].cancel.set()  # a new Generate restarts, as mandelbrot does
            self._gen_req = (jid, job)
            self._wake()
        return jid

    def cancel(self) -> None:
        with QMutexLocker(self._mutex):
            if self._current is not None:
                self._current[1].cancel.set()
            dropped, self._gen_req = self._gen_req, None
        if dropped is not None:  # never started, so the thread will not report it
            self.generationCancelled.emit(dropped[0])

    def attach_feed(self, job_id: int, feed: NoteFeed) -> bool:
        """Stream job ``job_id``'s first variation into ``feed``, from its first note on.
        False when that variation is already complete (play the finished notes instead)."""
        with QMutexLocker(self._mutex):
            if self._current is None or self._current[0] != job_id or self._first_done:
                return False
            if self._feed is not None:
                self._feed.close()
            for n in self._first_notes:
                feed.put(n)
            self._feed = feed
            return True

    def busy(self) -> bool:
        with QMutexLocker(self._mutex):
            return self._current is not None or self._gen_req is not None

    def stop(self) -> None:
        """Cancel everything and end the thread; bounded, safe to call twice."""
        with QMutexLocker(self._mutex):
            self._abort = True
            if self._current is not None:
                self._current[1].cancel.set()
            self._wake()
        self.wait(STOP_WAIT_MS)

    def _wake(self) -> None:
        self._cond.wakeOne()

    # --- the thread ----------------------------------------------------------------------
    def run(self) -> None:
        try:
            self.runtime = self._load_runtime()
            self.ready.emit(self.runtime.provider)
        except Exception as err:  # noqa: BLE001 - ModelError, or onnxruntime refusing the file
            self.loadFailed.emit(one_line(err))
        while True:
            with QMutexLocker(self._mutex):
                while not self._abort and self._image_req is None and self._gen_req is None:
                    self._cond.wait(self._mutex)
                if self._abort:
                    return
                image_req, self._image_req = self._image_req, None
                gen_req = None
                if image_req is None:
                    gen_req, self._gen_req = self._gen_req, None
                    self._current = gen_req
                    self._first_notes, self._first_done = [], False
            if image_req is not None:
                self._analyse(*image_req)
            elif gen_req is not None:
                try:
                    self._generate(*gen_req)
                finally:
                    with QMutexLocker(self._mutex):
                        self._current = None
                        self._first_done = True
                        self._close_feed_locked()

    def _close_feed_locked(self) -> None:
        if self._feed is not None:
            self._feed.close()
            self._feed = None

    def _serve_pending_image(self) -> None:
        # A picture dropped during a long generation is read between notes, so its VA and
        # thumbnail appear at once; the running job keeps its own image (see _generate).
        with QMutexLocker(self._mutex):
            req, self._image_req = self._image_req, None
        if req is not None:
            self._analyse(*req)

    def _analyse(self, rid: int, source: ImageSource) -> None:
        if self.runtime is None:
            self.imageFailed.emit(rid, f"{source.label}: cannot analyse: the model is not loaded")
            return
        try:
            if source.path is not None:
                img = load_image(source.path)
            elif source.qimage is not None:
                img = load_image_bytes(_png_bytes(source.qimage), source.label)
            else:
                img = load_image_bytes(source.data or b"", source.label)
            va = self.runtime.image_va(img)
            thumb = img.copy()
            thumb.thumbnail((THUMB_PX, THUMB_PX))
            raw = thumb.tobytes("raw", "RGB")
            qimg = QImage(raw, thumb.width, thumb.height, 3 * thumb.width, QImage.Format.Format_RGB888).copy()
        except ImageError as err:
            self.imageFailed.emit(rid, one_line(err))
            return
        except Exception as err:  # noqa: BLE001 - a picture must never take the app down
            self.imageFailed.emit(rid, f"{source.label}: could not read the image ({one_line(err)})")
            return
        self.imageReady.emit(rid, va, qimg, img)

    def _generate(self, jid: int, job: GenerationJob) -> None:
        rt = self.runtime
        if rt is None:
            self.generationFailed.emit(jid, "cannot generate: the model is not loaded")
            return
        total_beats = sum(s.bars * 4 for s in job.settings)
        done_beats = 0.0
        last_pct = -1
        results: list[Variation] = []
        try:
            for i, s in enumerate(job.settings):
                notes: list[NoteEvent] = []
                # image= re-encodes (~0.1 s) so a picture dropped mid-job cannot swap this
                # job's memory; the engine has no "generate from this encoding" call.
                gen = rt.generate(s, job.target, image=job.image)
                try:
                    for n in gen:
                        if job.cancel.is_set():
                            break
                        notes.append(n)
                        if i == 0:
                            with QMutexLocker(self._mutex):
                                self._first_notes.append(n)
                                if self._feed is not None:
                                    self._feed.put(n)
                            self.noteGenerated.emit(jid, n)
                        pct = int(100 * (done_beats + min(n.start, s.bars * 4)) / total_beats)
                        if pct > last_pct:
                            last_pct = pct
                            self.progress.emit(jid, pct)
                        self._serve_pending_image()
                finally:
                    gen.close()
                if i == 0:
                    with QMutexLocker(self._mutex):
                        self._first_done = True
                        self._close_feed_locked()
                if job.cancel.is_set():
                    self.generationCancelled.emit(jid)
                    return
                done_beats += s.bars * 4
                tonic, mode = resolve_key(s.key, job.target.valence)
                judged = VA(*rt.judge.predict(notes)).clipped() if notes else None
                v = Variation(i, s, job.target, key_name(tonic, mode), notes, judged)
                results.append(v)
                self.variationReady.emit(jid, v)
        except Exception as err:  # noqa: BLE001 - shown in the window; the thread lives on
            self.generationFailed.emit(jid, one_line(err))
            return
        ranked = sorted(results, key=lambda v: (v.fit, v.index))
        for r, v in enumerate(ranked, 1):
            v.rank = r
        self.progress.emit(jid, 100)
        self.generationFinished.emit(jid, ranked)


def _png_bytes(img: QImage) -> bytes:
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not img.save(buf, "PNG"):
        raise ImageError("clipboard image: cannot be converted (empty or unsupported pixels)")
    buf.close()
    return bytes(ba)
