"""Notes as music: keys and transposition (``keys``), velocities inside their bins (``dynamics``), a
player's timing and swing (``humanize``), the independent music-VA judge (``judge``) and the
musician's phrase to continue (``primer``), chords by name and recognised from notes (``chords``)."""

__all__ = ["keys", "dynamics", "humanize", "judge", "primer", "chords"]
