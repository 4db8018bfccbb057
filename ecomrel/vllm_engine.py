"""The vLLM setup, written once: engine arguments for the yes/no classifier (batch scoring and Serve) and for
completion models (translation), and the one seam through which tests put a fake engine in vLLM's place.

The classifier is vLLM's sequence-classification conversion of the causal LM (vLLM
``model_executor/models/adapters.py``: ``as_seq_cls_model`` subclasses ``Qwen3ForCausalLM``, and
``load_weights_using_from_2_way_softmax`` sets the one classifier row to ``W[yes] - W[no]`` of the LM head, the
two rows looked up with ``tokenizer.convert_tokens_to_ids(classifier_from_token)``). Its output is
sigmoid(l_yes - l_no): the P(yes) of ``ecomrel.scoring.p_yes``, provided the two vocabulary entries are the ones
training reads. They are therefore taken from ``ecomrel.scoring.answer_tokens`` (what training and the transformers
scorer use) and written as vocabulary entries (``convert_ids_to_tokens``), never as the bare words "no"/"yes",
which are different entries (or none) in a tokenizer that marks word starts (``Ġyes``, ``▁yes``).

The LoRA adapter is applied at run time, never merged: the converted class keeps ``Qwen3ForCausalLM``'s
``SupportsLoRA`` interface and packed-module mapping, and vLLM has run LoRA on pooling models since
vllm-project/vllm#14935; Ray's engine stage turns a row whose ``model`` differs from the stage's model into a
``LoRARequest`` (``vLLMEngineWrapper._maybe_get_lora_request``), and Serve passes one per call.

Injection: a Ray Data vLLM stage runs a ``vLLMEngineStageUDF``; :func:`use_engine_udf` swaps that class (and its GPU
reservation) for a stand-in. :func:`classify_udf` builds such a stand-in around any class with ``vllm.LLM``'s
``classify`` interface, so the same fake engine class serves batch scoring (``engine_udf=classify_udf(Fake)``) and
Serve (``engine_cls=Fake``).
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any, NamedTuple

log = logging.getLogger(__name__)

#: LoRA ranks vLLM accepts for ``max_lora_rank``.
VLLM_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)


class LoraRef(NamedTuple):
    """The fields of ``vllm.lora.request.LoRARequest`` that ecomrel sets; used when a fake engine is injected."""

    lora_name: str
    lora_int_id: int
    lora_path: str


def merge_engine_kwargs(defaults: Mapping[str, Any], user: Mapping[str, Any]) -> dict[str, Any]:
    """``user`` engine arguments over ecomrel's ``defaults``; ``hf_overrides`` is merged key by key."""
    out = copy.deepcopy(dict(defaults))
    for key, value in user.items():
        if key == "hf_overrides" and isinstance(out.get(key), Mapping):
            out[key] = {**out[key], **value}
        else:
            out[key] = copy.deepcopy(value)
    return out


def classifier_tokens(tokenizer) -> list[str]:
    """The vocabulary entries (no, yes) vLLM's ``classifier_from_token`` must name: training's answer tokens."""
    from .scoring import answer_tokens

    return tokenizer.convert_ids_to_tokens(answer_tokens(tokenizer).ids)


def classifier_overrides(base_model: str) -> dict[str, Any]:
    """``hf_overrides`` that turn a ``*ForCausalLM`` checkpoint into vLLM's yes/no sequence classifier."""
    from transformers import AutoConfig

    from .models import load_tokenizer

    config = AutoConfig.from_pretrained(base_model)
    archs = [a for a in (config.architectures or []) if a.endswith("ForCausalLM")]
    if not archs:
        raise ValueError(f"{base_model}: architectures {config.architectures} has no *ForCausalLM to convert")
    if getattr(config, "final_logit_softcapping", None):
        log.warning(
            "%s soft-caps its logits; vLLM's two-way conversion does not, so its P(yes) differs from the "
            "transformers scorer's",
            base_model,
        )
    return {
        "architectures": [archs[0].removesuffix("ForCausalLM") + "ForSequenceClassification"],
        "classifier_from_token": classifier_tokens(load_tokenizer(base_model)),
        "method": "from_2_way_softmax",
    }


def lora_rank(adapter: str | Path) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds the adapter's rank."""
    r = int(json.loads((Path(adapter) / "adapter_config.json").read_text())["r"])
    for allowed in VLLM_LORA_RANKS:
        if r <= allowed:
            return allowed
    raise ValueError(f"{adapter}: LoRA rank {r} exceeds vLLM's largest supported rank {VLLM_LORA_RANKS[-1]}")


def classifier_engine_kwargs(
    base_model: str, adapter: str | Path | None, *, max_seq_len: int, dtype: str, user: Mapping[str, Any]
) -> dict[str, Any]:
    """Engine arguments of the yes/no classifier on ``base_model`` with ``adapter`` applied per request."""
    defaults: dict[str, Any] = {
        "max_model_len": max_seq_len,
        "dtype": dtype,
        "enable_prefix_caching": True,  # every prompt of a task shares its prefix
        "hf_overrides": classifier_overrides(base_model),
    }
    if adapter is not None:
        defaults |= {"enable_lora": True, "max_loras": 1, "max_lora_rank": lora_rank(adapter)}
    return merge_engine_kwargs(defaults, user)


#: What ``vllm.LLM`` needs on top of :func:`classifier_engine_kwargs` to run the classifier (Ray's classify
#: stage sets the same two itself: ``vLLMEngineWrapper.__init__``).
CLASSIFY_RUNNER = {"runner": "pooling", "convert": "classify"}


def use_engine_udf(processor, engine_udf: type):
    """Run ``processor``'s vLLM stage with ``engine_udf`` (a ``vLLMEngineStageUDF`` subclass) in place of vLLM, on
    CPU: the stand-in takes the stage's constructor arguments and answers rows as the real one does."""
    stage = processor.get_stage_by_name("vLLMEngineStage")
    stage.fn = engine_udf
    stage.map_batches_kwargs["num_gpus"] = 0
    return processor


def classify_udf(llm_cls: type) -> type:
    """A ``vLLMEngineStageUDF`` whose engine is ``llm_cls(model=..., **engine_kwargs)`` answering ``classify``
    like ``vllm.LLM``; a row whose ``model`` is not the stage's model is a LoRA request, as in Ray's wrapper."""
    from ray.llm._internal.batch.stages.base import StatefulStageUDF
    from ray.llm._internal.batch.stages.vllm_engine_stage import vLLMEngineStageUDF, vLLMOutputData

    class _Engine:
        def __init__(self, model: str, engine_kwargs: dict) -> None:
            self.model = model
            self.engine = llm_cls(model=model, **CLASSIFY_RUNNER, **engine_kwargs)
            self.loras: dict[str, LoraRef] = {}
            self.requests = 0

        async def generate_async(self, row: dict):
            lora = None
            if "model" in row and row["model"] != self.model:
                name = str(row["model"])
                lora = self.loras.setdefault(name, LoraRef(name, len(self.loras) + 1, name))
            ids = [int(t) for t in row["tokenized_prompt"]]
            (out,) = self.engine.classify([{"prompt_token_ids": ids}], lora_request=lora, use_tqdm=False)
            request = SimpleNamespace(request_id=self.requests, idx_in_batch=row["__idx_in_batch"], params="classify")
            self.requests += 1
            probs = [float(p) for p in out.outputs.probs]
            data = vLLMOutputData(prompt="", prompt_token_ids=ids, num_input_tokens=len(ids), embeddings=probs)
            return request, data.model_dump(), 0.0

        def shutdown(self) -> None:
            pass

    class ClassifyUDF(vLLMEngineStageUDF):
        def __init__(self, data_column, expected_input_keys, model, engine_kwargs, **kwargs) -> None:
            StatefulStageUDF.__init__(self, data_column, expected_input_keys)
            self.model, self.task_type = model, kwargs.get("task_type", "classify")
            self.should_continue_on_error = False
            self.engine_kwargs = {**engine_kwargs, "disable_log_stats": True}
            self.llm = _Engine(model, engine_kwargs)

    return ClassifyUDF
