"""Notes → files and sound: reading and writing ``.mid`` (``midi_io``), rendering audio through a
SoundFont (``audio``) and playing it (``preview``), and the rules every input (``inputs``) and output
(``outputs``) path keeps."""

__all__ = ["midi_io", "audio", "preview", "inputs", "outputs"]
