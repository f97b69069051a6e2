"""Hear a piece before dragging it out: render it with the SoundFont synth and play the audio
through the computer's output, with a playhead.

Public names: ``Preview``, ``DeviceSink``, ``AudioSink``.

A sink is anything that plays a block of int16 stereo frames and says how many frames have
been heard: ``DeviceSink`` is the computer's default output through PortAudio
(``sounddevice``); tests pass their own. ``Preview`` renders (FluidSynth runs far faster than
real time: 8 bars take well under a second), hands the audio to the sink, and turns the
sink's frame count into the piece's beat for the playhead. Stop is instant: the sink drops
what it has not played, and audio has no note that could hang.
"""
from __future__ import annotations

import threading
from typing import Protocol

import numpy as np

from ..events import NoteEvent
from .audio import SAMPLE_RATE, AudioError, render_notes


class AudioSink(Protocol):
    def play(self, frames: np.ndarray, sample_rate: int) -> None: ...

    def position(self) -> int: ...       # frames heard so far

    def active(self) -> bool: ...        # still playing

    def stop(self) -> None: ...


class DeviceSink:
    """The default audio output through PortAudio. Raises ``AudioError`` (one line) when there
    is no PortAudio library or no output device."""

    def __init__(self) -> None:
        try:
            import sounddevice
        except (ImportError, OSError):
            raise AudioError("no audio output: the PortAudio library is not installed "
                             "(Debian/Ubuntu: apt install libportaudio2)") from None
        try:
            sounddevice.query_devices(kind="output")
        except Exception:  # noqa: BLE001 - PortAudioError or ValueError, depending on the host API
            raise AudioError("no audio output device found") from None
        self._sd = sounddevice
        self._stream = None
        self._frames = np.zeros((0, 2), np.int16)
        self._pos = 0
        self._lock = threading.Lock()

    def play(self, frames: np.ndarray, sample_rate: int) -> None:
        self.stop()
        with self._lock:
            self._frames, self._pos = frames, 0
        try:
            self._stream = self._sd.OutputStream(samplerate=sample_rate, channels=2, dtype="int16",
                                                 callback=self._callback, finished_callback=None)
            self._stream.start()
        except Exception as e:  # noqa: BLE001
            self._stream = None
            raise AudioError(f"cannot open the audio output ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None

    def _callback(self, out, frames, _time, _status) -> None:
        with self._lock:
            chunk = self._frames[self._pos:self._pos + frames]
            self._pos += len(chunk)
        out[:len(chunk)] = chunk
        out[len(chunk):] = 0
        if len(chunk) < frames:
            raise self._sd.CallbackStop

    def position(self) -> int:
        """Frames heard: those handed to the device, less what its buffer still holds."""
        with self._lock:
            pos = self._pos
        stream = self._stream
        held = int(stream.latency * stream.samplerate) if stream is not None else 0
        return max(0, pos - held)

    def active(self) -> bool:
        return self._stream is not None and self._stream.active

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()  # abort, not stop: drop the buffered audio now
            stream.close()


class Preview:
    """Render a piece and play it on a sink (``DeviceSink`` unless one is given)."""

    def __init__(self, sink: AudioSink | None = None, soundfont=None) -> None:
        self._sink = sink
        self.soundfont = soundfont
        self._tempo = 120.0
        self._rate = SAMPLE_RATE

    @property
    def sink(self) -> AudioSink:
        if self._sink is None:
            self._sink = DeviceSink()
        return self._sink

    def play(self, notes: list[NoteEvent], tempo: float) -> float:
        """Start playing ``notes`` at ``tempo``; returns the audio's length in seconds.
        Raises ``AudioError`` with one line when there is no SoundFont, synth or output."""
        sink = self.sink
        audio = render_notes(notes, tempo, self.soundfont)
        self._rate = SAMPLE_RATE
        self._tempo = float(tempo)
        sink.play(audio, self._rate)
        return len(audio) / self._rate

    def playing(self) -> bool:
        return self._sink is not None and self._sink.active()

    def playhead(self) -> float | None:
        """The beat being heard, or None when nothing plays."""
        if not self.playing():
            return None
        return self._sink.position() / self._rate * self._tempo / 60.0

    def stop(self) -> None:
        if self._sink is not None:
            self._sink.stop()
