"""The picture → its valence and arousal: reading any image (``images``), the colour statistics and
the VA head over the image encoder's outputs (``image_stats``), and the calibration to the labels'
scale (``calibration``). The image encoder itself runs in ``engine.generation.runtime``."""

__all__ = ["images", "image_stats", "calibration"]
