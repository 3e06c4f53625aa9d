"""The encoder's transformer on ONNX Runtime, int8: exported once per model, cached on disk.

The model is exported with ``torch.onnx.export``, its attention, GELU and layer norms fused by
ONNX Runtime's transformer optimizer, and the weights of its dense layers quantised to int8 per
output channel (``onnxruntime.quantization.quantize_dynamic``; activations are quantised on the
fly). The fused attention itself stays float32: quantising it costs accuracy for little speed.
The result is cached under ``~/.cache/intentmeta/onnx/<key>/model.onnx`` (``$XDG_CACHE_HOME`` and
``$INTENTMETA_ONNX_CACHE`` are honoured), the key a hash of the weights, the model's config and
the library versions, so any Hugging Face encoder gets its own file and a changed model a new one.

Needs the optional extra ``intentmeta[onnx]`` (``onnxruntime``, ``onnx``).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

#: Changes whenever the export or quantisation recipe does, so old cache files are not reused.
RECIPE = "onnx-int8-v1: opset 17, bert fusion, MatMul int8 per-channel, attention fp32"


def onnx_cache_dir() -> Path:
    """Where exported models are kept."""
    override = os.environ.get("INTENTMETA_ONNX_CACHE")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "intentmeta" / "onnx"


def model_key(model: nn.Module) -> str:
    """A hash of the weights, the config and the versions that shape the exported file."""
    import onnxruntime

    digest = hashlib.sha256()
    digest.update(RECIPE.encode())
    digest.update(f"torch {torch.__version__} onnxruntime {onnxruntime.__version__}".encode())
    digest.update(json.dumps(model.config.to_dict(), sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:24]


class _HiddenStates(nn.Module):
    """The transformer with positional inputs, returning only the last hidden states."""

    def __init__(self, model: nn.Module, input_names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.input_names = input_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        kwargs = dict(zip(self.input_names, inputs, strict=True))
        return self.model(**kwargs).last_hidden_state  # (batch, seq, dim)


def export_int8(model: nn.Module, tokenizer, path: Path) -> None:
    """Export, fuse and quantise ``model`` into the ONNX file ``path``.

    Args:
        model: A Hugging Face encoder in eval mode on the CPU.
        tokenizer: Its tokenizer (for the example inputs and the input names).
        path: Where to write the int8 model.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    sample = tokenizer(["where is my parcel", "refund"], padding=True, return_tensors="pt")
    accepted = inspect.signature(model.forward).parameters
    names = [name for name in sample if name in accepted]
    work = Path(tempfile.mkdtemp(dir=path.parent))
    try:
        exported = work / "fp32.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            previous = getattr(model.config, "_attn_implementation", None)
            try:
                model.set_attn_implementation("eager")  # the attention ORT's fusion recognises
            except (AttributeError, ValueError):
                previous = None  # a model that cannot switch: exported as it is
            try:
                torch.onnx.export(
                    _HiddenStates(model, names).eval(),
                    tuple(sample[name] for name in names),
                    str(exported),
                    input_names=names,
                    output_names=["last_hidden_state"],
                    dynamic_axes={
                        n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]
                    },
                    opset_version=17,
                    dynamo=False,
                )
            finally:
                if previous is not None:
                    model.set_attn_implementation(previous)
        fused = _fuse(exported, model.config)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantiser's advice to pre-process goes to the root log
        try:
            quantize_dynamic(
                str(fused),
                str(path),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            root.setLevel(level)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fuse(exported: Path, config) -> Path:
    """Fuse attention, GELU and layer norms for BERT-like models; others are left as exported."""
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        optimized = optimize_model(
            str(exported),
            model_type="bert",
            num_heads=getattr(config, "num_attention_heads", 0),
            hidden_size=getattr(config, "hidden_size", 0),
        )
        fused = exported.with_name("fused.onnx")
        optimized.save_model_to_file(str(fused))
        return fused
    except Exception:  # an architecture the optimizer does not know: quantise it unfused
        return exported


def cached_int8_model(model: nn.Module, tokenizer) -> Path:
    """The int8 ONNX file of ``model``, exported on first use and then read from the cache."""
    directory = onnx_cache_dir() / model_key(model)
    path = directory / "model.onnx"
    if path.is_file():
        return path
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=".export-"))
    try:
        export_int8(model, tokenizer, staging / "model.onnx")
        try:
            os.replace(staging, directory)  # atomic: readers see no file or a whole one
        except OSError:
            if not path.is_file():  # not another process that finished first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


class OnnxEncoderModel:
    """Runs an exported transformer on ONNX Runtime with the call signature of the torch model.

    Args:
        path: The ONNX file.
        config: The Hugging Face config of the model it came from (kept as ``.config``).
        threads: Intra-op threads; ``None`` follows ``torch.get_num_threads()``.

    Example:
        >>> from intentmeta.encoder import EncoderConfig, SentenceEncoder
        >>> encoder = SentenceEncoder(EncoderConfig(backend="onnx-int8"))  # doctest: +SKIP
        >>> encoder.encode(["where is my parcel"]).shape  # doctest: +SKIP
        torch.Size([1, 384])
    """

    def __init__(self, path: Path, config, threads: int | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.config = config

    def __call__(self, **inputs: torch.Tensor) -> SimpleNamespace:
        feed = {name: inputs[name].numpy().astype(np.int64) for name in self.input_names}
        (hidden,) = self.session.run(["last_hidden_state"], feed)  # (batch, seq, dim)
        return SimpleNamespace(last_hidden_state=torch.from_numpy(hidden))


def onnx_int8_model(model: nn.Module, tokenizer) -> OnnxEncoderModel:
    """``model`` exported (or read from the cache) and loaded on ONNX Runtime.

    Raises:
        ImportError: If ``onnxruntime`` or ``onnx`` is missing (``pip install intentmeta[onnx]``).
    """
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "the onnx-int8 encoder backend needs onnxruntime and onnx: "
            "pip install 'intentmeta[onnx]'"
        ) from error
    return OnnxEncoderModel(cached_int8_model(model, tokenizer), model.config)
