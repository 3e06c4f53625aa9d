"""Ways to run the encoder's transformer: the faithful float32 model, or an int8 one.

``"torch"`` runs the weights as published. ``"quantized"`` swaps every ``nn.Linear`` for a
dynamically quantised int8 one (weights int8 per output channel, activations quantised on the fly),
which roughly halves the time of a forward pass on CPU at the cost of slightly different
embeddings. ``"onnx-int8"`` exports the model to ONNX, fuses and quantises it, caches the file on
disk and runs it on ONNX Runtime (:mod:`intentmeta.onnx_backend`; extra ``intentmeta[onnx]``).
``make bench`` measures the speed-ups and the accuracy they cost on BANKING77.
"""

from __future__ import annotations

import warnings

from torch import nn

#: Backends :class:`~intentmeta.encoder.EncoderConfig` accepts.
BACKENDS = ("torch", "quantized", "onnx-int8")


def check_backend(backend: str) -> str:
    """Return ``backend`` if it is one of :data:`BACKENDS`.

    Raises:
        ValueError: If it is not.
    """
    if backend not in BACKENDS:
        raise ValueError(f"encoder backend must be one of {BACKENDS}, not {backend!r}")
    return backend


def prepare_model(model: nn.Module, backend: str, tokenizer=None) -> nn.Module:
    """Turn a loaded float32 model into the one the backend runs.

    Args:
        model: The transformer, in eval mode on the CPU.
        backend: ``"torch"`` (returned unchanged), ``"quantized"`` or ``"onnx-int8"``.
        tokenizer: The model's tokenizer (``"onnx-int8"`` exports with it).

    Returns:
        The model to call, with the torch model's call signature; ``model`` is left as it was.

    Example:
        >>> import torch
        >>> prepare_model(torch.nn.Linear(4, 4), "quantized")(torch.ones(1, 4)).shape
        torch.Size([1, 4])
    """
    if check_backend(backend) == "torch":
        return model
    if backend == "onnx-int8":
        from intentmeta.onnx_backend import onnx_int8_model

        return onnx_int8_model(model, tokenizer)
    # torch marks its eager quantisation API deprecated in favour of torchao; it still ships and
    # works, and needs no extra dependency, so the warning is noise to our users.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        # Per-channel scales: per-tensor ones cost ~2 points of BANKING77 accuracy, these ~0.5.
        return quantize_dynamic(model, {nn.Linear: per_channel_dynamic_qconfig}, inplace=False)
