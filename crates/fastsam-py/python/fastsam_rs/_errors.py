"""The exceptions fastsam_rs raises. Each carries the Rust library's message.

``FastSAMError`` is the base of them all; the two others are also the built-in exception a caller expects
(``except FileNotFoundError`` and ``except ValueError`` work as usual).
"""


class FastSAMError(Exception):
    """Any error of fastsam_rs: an image that cannot be decoded, a broken checkpoint, ONNX Runtime failing."""


class FastSAMFileNotFoundError(FastSAMError, FileNotFoundError):
    """A file (image, checkpoint, CLIP model) that does not exist."""


class FastSAMValueError(FastSAMError, ValueError):
    """A bad option or prompt: out of range, not finite, of the wrong shape, an unknown model name."""
