"""Model-output decoders: raw tensors → candidate boxes in model-input pixels."""

from guardian.edge.detect.decoders.base import Decoder, sigmoid, softmax

__all__ = ["Decoder", "sigmoid", "softmax"]
