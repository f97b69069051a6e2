"""The engine on one worker thread: load the model, read pictures, generate variations.

Shaped like Qt's mandelbrot example (docs/DESIGN.md, Style): requests are stored under a mutex and a
newer one replaces the pending one; the thread sleeps on a wait condition when idle; results
come back through typed signals, so widgets are only touched on the GUI thread. The engine
itself stays Qt-free: this module only calls ``engine.generation.runtime.Runtime``.

A picture is encoded once, when it is read; its ``Encoding`` travels with the picture into
each ``GenerationJob``, and every variation of the job is composed from that one value. So a
picture dropped mid-job cannot change the running job, and no variation re-encodes.

Cancellation is cooperative: each generation job has its own ``threading.Event``, checked
between notes, and the engine's note generator is closed explicitly so its decoder state is
let go at once rather than whenever the garbage collector gets to it.

A ``RevisionJob`` rewrites some bars of a finished variation (``Runtime.revise``) with a seed of
its own; the result comes back as a new ``Variation``, a *take* of the one it was made from, so
the window keeps every take and can go back and forth between them.
"""
from __future__ import annotations

import itertools
import math
import queue
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QMutex, QMutexLocker, QThread, QWaitCondition, pyqtSignal
from PyQt6.QtGui import QImage

from engine.events import VA, NoteEvent
from engine.picture.images import ImageError, load_image, load_image_bytes
from engine.music.primer import Primer
from engine.request import GenerationSettings, Judged, Piece, judge_piece, rank_by_fit
from engine.generation.runtime import Encoding, Runtime

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


@dataclass(frozen=True)
class Variation:
    """One result of a job: the engine's ``Piece`` and how the judge heard it, plus its place.

    ``index`` is generation order (0 is the one that can stream; its seed is the job's first);
    ``rank`` is 1 for the best emotion fit once the whole job is ranked, 0 until then.
    """

    index: int
    piece: Piece
    judged: Judged | None = None
    rank: int = 0
    take: int = 1                          # 1: as generated; 2, 3…: bars regenerated from another take
    family: int | None = None              # the generated variation's index a take descends from (None: itself)
    revised: tuple[int, int] | None = None  # the bars (first, last, from 1) this take rewrote

    @property
    def root(self) -> int:
        """The index of the generated variation this one is, or is a take of."""
        return self.index if self.family is None else self.family

    @property
    def is_take(self) -> bool:
        return self.revised is not None

    @property
    def notes(self) -> tuple[NoteEvent, ...]:
        return self.piece.notes

    @property
    def settings(self) -> GenerationSettings:
        return self.piece.settings

    @property
    def target(self) -> VA:
        return self.piece.target

    @property
    def key_name(self) -> str:
        return self.piece.key.name

    @property
    def tempo(self) -> float:
        return self.piece.tempo

    @property
    def heard(self) -> VA | None:
        """The VA the judge hears (None: not judged yet, or no notes to judge)."""
        return self.judged.va if self.judged is not None else None

    @property
    def fit(self) -> float:
        return self.judged.fit if self.judged is not None else math.inf


@dataclass(frozen=True)
class RevisionJob:
    """Rewrite bars ``first_bar``..``last_bar`` (from 1, inclusive) of ``variation`` with ``seed``;
    ``index`` and ``take`` are what the new take will be numbered."""

    variation: Variation
    first_bar: int
    last_bar: int
    seed: int
    index: int
    take: int


@dataclass(frozen=True)
class GenerationJob:
    settings: tuple[GenerationSettings, ...]   # one per variation
    target: VA
    encoding: Encoding | None = field(default=None, compare=False)   # the picture's; None: from VA alone
    primer: Primer | None = field(default=None, compare=False)       # a phrase to continue (engine.music.primer)
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)

    @property
    def beats(self) -> float:
        return sum(s.beats for s in self.settings)


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
    imageReady = pyqtSignal(int, object, QImage)   # request id, Encoding (its VA, its label), thumbnail
    imageFailed = pyqtSignal(int, str)
    noteGenerated = pyqtSignal(int, object)        # job id, NoteEvent of variation 0
    progress = pyqtSignal(int, int)                # job id, percent of all variations
    variationReady = pyqtSignal(int, object)       # job id, Variation (unranked yet)
    generationFinished = pyqtSignal(int, object)   # job id, list[Variation] best first
    generationCancelled = pyqtSignal(int)
    generationFailed = pyqtSignal(int, str)
    revisionReady = pyqtSignal(int, object)        # job id, Variation (the new take)
    revisionFailed = pyqtSignal(int, str)

    def __init__(self, load_runtime: Callable[[], Runtime] = Runtime.load, parent=None) -> None:
        super().__init__(parent)
        self._load_runtime = load_runtime
        self._mutex = QMutex()
        self._cond = QWaitCondition()
        self._abort = False
        self._ids = itertools.count(1)
        self._image_req: tuple[int, ImageSource] | None = None
        self._gen_req: tuple[int, GenerationJob] | None = None
        self._rev_req: tuple[int, RevisionJob] | None = None
        self._revising = False
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

    def revise(self, job: RevisionJob) -> int:
        """Rewrite some bars of a finished variation; a newer request replaces one not yet begun."""
        with QMutexLocker(self._mutex):
            jid = next(self._ids)
            self._rev_req = (jid, job)
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
            return (self._current is not None or self._gen_req is not None or self._rev_req is not None
                    or self._revising)

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
                while (not self._abort and self._image_req is None and self._gen_req is None
                       and self._rev_req is None):
                    self._cond.wait(self._mutex)
                if self._abort:
                    return
                image_req, self._image_req = self._image_req, None
                gen_req = rev_req = None
                if image_req is None:
                    gen_req, self._gen_req = self._gen_req, None
                    if gen_req is None:
                        rev_req, self._rev_req = self._rev_req, None
                        self._revising = rev_req is not None
                    self._current = gen_req
                    self._first_notes, self._first_done = [], gen_req is None
            if image_req is not None:
                self._analyse(*image_req)
            elif rev_req is not None:
                try:
                    self._revise(*rev_req)
                finally:
                    with QMutexLocker(self._mutex):
                        self._revising = False
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
        # thumbnail appear at once; the running job keeps the Encoding it was given.
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
            encoding = self.runtime.encode(img, label=source.label)
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
        self.imageReady.emit(rid, encoding, qimg)

    def _generate(self, jid: int, job: GenerationJob) -> None:
        rt = self.runtime
        if rt is None:
            self.generationFailed.emit(jid, "cannot generate: the model is not loaded")
            return
        encoding = job.encoding if job.encoding is not None else rt.blank()
        progress = _Progress(lambda pct: self.progress.emit(jid, pct), job.beats)
        results: list[Variation] = []
        try:
            for i, s in enumerate(job.settings):
                tokens: list[int] = []   # kept so the variation's Piece is the engine's, tokens included
                plan = rt.plan(s, [encoding], va=job.target, primer=job.primer)
                gen = rt.stream_notes(plan, tokens)
                notes = self._sample(jid, job, i, gen, progress)
                if job.cancel.is_set():
                    self.generationCancelled.emit(jid)
                    return
                progress.done(s.beats)
                piece = plan.piece(notes, tokens)
                v = Variation(i, piece, judge_piece(piece, rt.judge))
                results.append(v)
                self.variationReady.emit(jid, v)
        except Exception as err:  # noqa: BLE001 - shown in the window; the thread lives on
            self.generationFailed.emit(jid, one_line(err))
            return
        self.progress.emit(jid, 100)
        self.generationFinished.emit(jid, ranked(results))

    def _revise(self, jid: int, job: RevisionJob) -> None:
        rt = self.runtime
        if rt is None:
            self.revisionFailed.emit(jid, "cannot regenerate: the model is not loaded")
            return
        try:
            take = revise_variation(rt, job)
        except Exception as err:  # noqa: BLE001 - UsageError for a range outside the piece, or the model failing
            self.revisionFailed.emit(jid, one_line(err))
            return
        self.revisionReady.emit(jid, take)

    def _sample(self, jid: int, job: GenerationJob, i: int, gen: Iterator[NoteEvent],
                progress: "_Progress") -> list[NoteEvent]:
        """Pull one variation's notes until it ends or the job is cancelled; the first variation
        also feeds the piano roll and any attached live player as each note arrives."""
        notes: list[NoteEvent] = []
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
                progress.at(min(n.start, job.settings[i].beats))
                self._serve_pending_image()
        finally:
            gen.close()
            if i == 0:
                with QMutexLocker(self._mutex):
                    self._first_done = True
                    self._close_feed_locked()
        return notes


def revise_variation(rt: Runtime, job: RevisionJob) -> Variation:
    """The new take: ``job.variation`` with bars ``first_bar``..``last_bar`` composed again with
    ``job.seed`` (``Runtime.revise``); every other note is the variation's own. Its ``Piece`` keeps
    the plan it came from, with the take's seed, so its file and its name tell the takes apart.
    The key is pinned to the piece's (an automatic key's tonic follows the seed); ``revise`` reads the
    piece's progression (and arc) at the span's bars (no progression: the chords the original bars play)."""
    v = job.variation
    plan = v.piece.plan
    settings = replace(plan.settings, seed=job.seed, key=plan.key.name)
    encodings = [plan.encoding] if plan.encoding is not None else []
    revision = rt.revise(settings, encodings, list(v.notes), job.first_bar, job.last_bar,
                         va=None if settings.arc else plan.target, bars=settings.bars)
    piece = Piece(replace(plan, settings=settings), tuple(revision.notes))
    return Variation(job.index, piece, judge_piece(piece, rt.judge), rank=v.rank, take=job.take, family=v.root,
                     revised=(revision.first_bar, revision.last_bar))


def ranked(results: list[Variation]) -> list[Variation]:
    """The job's variations best emotion fit first (the engine's ranking), numbered from 1."""
    # rank_by_fit orders the engine's Judged values; each variation holds its own, so identity
    # leads back from a Judged to its variation.
    by_judged = {id(v.judged): v for v in results}
    order = rank_by_fit(v.judged for v in results)
    return [replace(by_judged[id(j)], rank=r) for r, j in enumerate(order, 1)]


class _Progress:
    """Percent of all the job's beats sampled so far, reported only when it grows."""

    def __init__(self, emit: Callable[[int], None], total_beats: float) -> None:
        self._emit, self._total, self._done, self._last = emit, total_beats, 0.0, -1

    def at(self, beat: float) -> None:
        pct = int(100 * (self._done + beat) / self._total)
        if pct > self._last:
            self._last = pct
            self._emit(pct)

    def done(self, beats: float) -> None:
        self._done += beats


def _png_bytes(img: QImage) -> bytes:
    ba = QByteArray()
    buf = QBuffer(ba)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not img.save(buf, "PNG"):
        raise ImageError("clipboard image: cannot be converted (empty or unsupported pixels)")
    buf.close()
    return bytes(ba)
