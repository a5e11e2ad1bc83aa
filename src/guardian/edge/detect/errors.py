"""Errors of the detection stage, each with a message that says what to do."""


class DetectError(Exception):
    """Base class of detection errors."""


class ModelNotFoundError(DetectError):
    """A model's files are not in the models directory."""


class ModelValidationError(DetectError):
    """A model's inputs, outputs or labels do not match what its config declares."""


class ModelFetchError(DetectError):
    """Obtaining or converting a model failed."""


class RuntimeUnavailableError(DetectError):
    """The requested inference runtime is not installed or cannot load the model."""


class ImageReadError(DetectError):
    """An input file is unreadable or not an image."""
