"""The encoder's transformer on ONNX Runtime, int8: exported once per model, cached on disk.

The model is exported with ``torch.onnx.export``; for BERT-family models ONNX Runtime's
transformer optimizer then fuses attention, GELU and layer norms (kept only if the fused graph
gives the exported one's outputs; other architectures are quantised unfused). The weights of its
dense layers and of the fused attention's Q/K/V projection are quantised to int8 per output
channel (``onnxruntime.quantization.quantize_dynamic``; activations are quantised on the fly).
:class:`OnnxRecipe` holds these choices; ``benchmarks/onnx_recipes.py`` compares them.
The result is cached under ``~/.cache/intentmeta/onnx/<key>/model.onnx`` (``$XDG_CACHE_HOME`` and
``$INTENTMETA_ONNX_CACHE`` are honoured), the key a hash of the weights, the model's config, the
recipe and the library versions, so any Hugging Face encoder gets its own file and a changed
model a new one. ``export.json`` beside it records the recipe and whether the graph was fused.

Needs the optional extra ``intentmeta[onnx]`` (``onnxruntime``, ``onnx``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

#: Bumped whenever the export code changes what a recipe produces, so old cache files go unused.
EXPORT_VERSION = 2

#: Hugging Face model types ONNX Runtime's "bert" optimizer is meant for (the types optimum hands
#: to it); any other architecture is quantised as exported.
BERT_FAMILY = frozenset(
    {"bert", "roberta", "xlm-roberta", "camembert", "distilbert", "electra", "mpnet", "albert"}
)


@dataclass(frozen=True)
class OnnxRecipe:
    """How a transformer becomes an int8 ONNX model.

    The defaults were chosen on held-out data (BANKING77 train and CLINC150 validation, never a
    test split) with ``benchmarks/onnx_recipes.py``; BENCHMARKS.md has the comparison.

    Attributes:
        fuse: Fuse attention, GELU and layer norms with ONNX Runtime's transformer optimizer
            (BERT-family models only; the fused graph is checked against the exported one).
        quantize_attention: Also store the fused attention's Q/K/V weights in int8
            (``QAttention``) rather than float32.
        per_channel: One weight scale per output channel instead of one per tensor.
        reduce_range: 7-bit weights, for CPUs without VNNI whose 8-bit products can saturate.
        opset: ONNX opset of the export.

    Example:
        >>> OnnxRecipe(quantize_attention=False).per_channel
        True
    """

    fuse: bool = True  # ~10 % faster per message than the unfused graph
    quantize_attention: bool = True  # ~25 % faster than float32 attention, accuracy within noise
    per_channel: bool = True  # per-tensor scales cost ~0.4-0.6 points on held-out data
    # 7-bit weights: as fast, accuracy within noise, but embeddings further from float32
    # (mean cosine 0.9913 against 0.9927 on held-out texts); meant for CPUs without VNNI.
    reduce_range: bool = False
    opset: int = 17  # what torch.onnx's TorchScript exporter and ORT's fusions handle well

    def op_types(self) -> list[str]:
        """The operators ``quantize_dynamic`` turns into int8 ones."""
        return ["MatMul", "Attention"] if self.quantize_attention else ["MatMul"]


def onnx_cache_dir() -> Path:
    """Where exported models are kept."""
    override = os.environ.get("INTENTMETA_ONNX_CACHE")
    if override:
        return Path(override).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "intentmeta" / "onnx"


def model_key(model: nn.Module, recipe: OnnxRecipe | None = None) -> str:
    """A hash of the weights, the config, the recipe and the versions behind the exported file."""
    import onnxruntime

    recipe = recipe or OnnxRecipe()
    digest = hashlib.sha256()
    digest.update(f"export v{EXPORT_VERSION} {dataclasses.asdict(recipe)}".encode())
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


def export_int8(model: nn.Module, tokenizer, path: Path, recipe: OnnxRecipe | None = None) -> dict:
    """Export, fuse and quantise ``model`` into the ONNX file ``path``.

    Args:
        model: A Hugging Face encoder in eval mode on the CPU.
        tokenizer: Its tokenizer (for the example inputs and the input names).
        path: Where to write the int8 model.
        recipe: How to fuse and quantise; ``None`` uses the defaults.

    Returns:
        What was done: the recipe, the model type and whether the graph was fused.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    recipe = recipe or OnnxRecipe()
    texts = ["where is my parcel", "refund", "I would like to return the shoes I bought"]
    sample = tokenizer(texts, padding=True, return_tensors="pt")
    accepted = inspect.signature(model.forward).parameters
    names = [name for name in sample if name in accepted]
    work = Path(tempfile.mkdtemp(dir=path.parent))
    try:
        exported = work / "fp32.onnx"
        _export(model, {name: sample[name] for name in names}, exported, recipe.opset)
        feed = {name: sample[name].numpy() for name in names}
        fused = _fuse(exported, model.config, tokenizer, feed) if recipe.fuse else None
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # the quantiser's advice to pre-process goes to the root log
        try:
            quantize_dynamic(
                str(fused or exported),
                str(path),
                weight_type=QuantType.QInt8,
                per_channel=recipe.per_channel,
                reduce_range=recipe.reduce_range,
                op_types_to_quantize=recipe.op_types(),
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            root.setLevel(level)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "recipe": dataclasses.asdict(recipe),
        "model_type": getattr(model.config, "model_type", None),
        "fused": fused is not None,
    }


def _export(model: nn.Module, sample: dict[str, torch.Tensor], path: Path, opset: int) -> None:
    """``torch.onnx.export`` with dynamic batch and sequence axes, eager attention if possible."""
    names = list(sample)
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
                tuple(sample.values()),
                str(path),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={
                    n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]
                },
                opset_version=opset,
                dynamo=False,
            )
        finally:
            if previous is not None:
                model.set_attn_implementation(previous)


def _fuse(exported: Path, config, tokenizer, sample: dict[str, np.ndarray]) -> Path | None:
    """The BERT-fused graph of a BERT-family model, if it computes what the exported one does.

    Returns:
        The fused file, or ``None`` for another architecture, a graph the optimizer rejects, or
        a fused graph whose hidden states on ``sample`` differ from the exported graph's.
    """
    if getattr(config, "model_type", None) not in BERT_FAMILY:
        return None
    try:
        from onnxruntime.transformers.fusion_options import AttentionMaskFormat, FusionOptions
        from onnxruntime.transformers.optimizer import optimize_model

        options = FusionOptions("bert")
        if getattr(tokenizer, "padding_side", "right") != "right":
            # The default mask format counts real tokens from the left: a left-padded batch
            # needs the full mask.
            options.attention_mask_format = AttentionMaskFormat.AttentionMask
        optimized = optimize_model(
            str(exported),
            model_type="bert",
            num_heads=getattr(config, "num_attention_heads", 0),
            hidden_size=getattr(config, "hidden_size", 0),
            optimization_options=options,
        )
        fused = exported.with_name("fused.onnx")
        optimized.save_model_to_file(str(fused))
    except Exception:  # a graph the optimizer does not know: quantise it unfused
        return None
    return fused if _same_hidden_states(exported, fused, sample) else None


def _same_hidden_states(first: Path, second: Path, sample: dict[str, np.ndarray]) -> bool:
    """Whether two float32 graphs agree on the real tokens of ``sample`` (to 1e-3 of the scale)."""
    import onnxruntime

    outputs = []
    for path in (first, second):
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        feed = {i.name: sample[i.name].astype(np.int64) for i in session.get_inputs()}
        outputs.append(session.run(["last_hidden_state"], feed)[0])  # (batch, seq, dim)
    first_input = next(iter(sample.values()))  # (batch, seq)
    real = sample.get("attention_mask", np.ones_like(first_input)).astype(bool)  # (batch, seq)
    reference, candidate = outputs[0][real], outputs[1][real]  # (n_real_tokens, dim)
    scale = max(1.0, float(np.abs(reference).max()))
    return bool(np.abs(reference - candidate).max() <= 1e-3 * scale)


def cached_int8_model(model: nn.Module, tokenizer, recipe: OnnxRecipe | None = None) -> Path:
    """The int8 ONNX file of ``model``, exported on first use and then read from the cache."""
    directory = onnx_cache_dir() / model_key(model, recipe)
    path = directory / "model.onnx"
    if path.is_file():
        return path
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=".export-"))
    try:
        done = export_int8(model, tokenizer, staging / "model.onnx", recipe)
        (staging / "export.json").write_text(json.dumps(done, indent=2) + "\n")
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
        path: The ONNX file; its folder's name is kept as ``export_key`` (in the cache, the
            hash of the model and the recipe), so vectors of different exports stay apart.
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
        self.export_key = Path(path).parent.name

    def __call__(self, **inputs: torch.Tensor) -> SimpleNamespace:
        feed = {name: inputs[name].numpy().astype(np.int64) for name in self.input_names}
        (hidden,) = self.session.run(["last_hidden_state"], feed)  # (batch, seq, dim)
        return SimpleNamespace(last_hidden_state=torch.from_numpy(hidden))


def onnx_int8_model(
    model: nn.Module, tokenizer, recipe: OnnxRecipe | None = None
) -> OnnxEncoderModel:
    """``model`` exported with ``recipe`` (or read from the cache) and loaded on ONNX Runtime.

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
    return OnnxEncoderModel(cached_int8_model(model, tokenizer, recipe), model.config)
