"""Notes → a MIDI port, live: the ports (``ports``), the real-time scheduler (``scheduler``), the DAW's
clock and CCs (``midi_in``), generating while playing (``stream``), Ableton Link (``link``), steering
from the next bar line (``steering``), answering a played phrase (``listen``) and following the chords
the musician holds (``follow``)."""

__all__ = ["ports", "scheduler", "midi_in", "stream", "link", "steering", "listen", "follow"]
