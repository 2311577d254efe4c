"""Optional vLLM generation backend for GPU machines.

:class:`VLLMPolicy` is a drop-in replacement for :class:`~agentrl.policies.hf.HFPolicy` when CUDA and
vLLM are present: same :class:`~agentrl.policies.hf.GenerationConfig`, same context building from
the stored token ids (so records stay token-exact), generation by vLLM's continuous batching, and
``load_weights(state_dict)`` to take the learner's weights after each update.

Weight sync goes through vLLM's worker extension: the engine is built with
``worker_extension_cls="agentrl.policies.vllm.WeightSyncExtension"`` and ``load_weights`` calls
``LLM.collective_rpc("agentrl_load_weights", ...)`` on every GPU worker, then clears the prefix cache
(cached KV blocks belong to the old weights). vLLM versions without ``collective_rpc`` load through
the in-process driver worker instead.

Nothing here imports vLLM until a policy is built, so the module imports everywhere; building one
without vLLM raises :class:`~agentrl.core.registry.MissingExtraError` with the install command.
Install on a CUDA machine with ``pip install 'agentrl[vllm]'``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from agentrl.core.policy import ActionOutput, PolicyInput
from agentrl.core.registry import MissingExtraError
from agentrl.models.loading import load_tokenizer
from agentrl.policies.chat import ChatFormat
from agentrl.policies.generation import GenerationConfig
from agentrl.policies.hf import HFPolicy, turn_output

EXTENSION = "agentrl.policies.vllm.WeightSyncExtension"


def require_vllm():
    """The ``vllm`` module, or a :class:`MissingExtraError` that says how to get it."""
    try:
        import vllm
    except ImportError as exc:
        raise MissingExtraError(
            "VLLMPolicy needs vLLM, which runs on CUDA GPUs: pip install 'agentrl[vllm]' on a GPU machine. "
            "Without a GPU use HFPolicy (policy 'hf:MODEL')."
        ) from exc
    return vllm


@dataclass
class VLLMConfig:
    """Engine settings passed to ``vllm.LLM``."""

    gpu_memory_utilization: float = 0.5
    """Share of GPU memory vLLM may take (leave room for the learner on a shared GPU)."""
    dtype: str = "bfloat16"
    """Weights and activations dtype."""
    tensor_parallel_size: int = 1
    """GPUs one engine spans."""
    max_model_len: int | None = None
    """Context length cap; ``None`` takes the model's."""
    enable_prefix_caching: bool = True
    """Reuse KV blocks across turns that share a prefix (multi-turn contexts do)."""
    logprobs_mode: str | None = "processed_logprobs"
    """Log-probs after temperature, as ``HFPolicy`` records them (vLLM >= 0.10.2; set ``None``
    on older versions and keep temperature 1.0, where raw and processed agree)."""
    seed: int = 0
    """Engine sampling seed."""
    engine_kwargs: dict[str, Any] = field(default_factory=dict)
    """Further ``vllm.LLM`` keyword arguments."""

    def llm_kwargs(self) -> dict[str, Any]:
        kwargs = dict(
            gpu_memory_utilization=self.gpu_memory_utilization,
            dtype=self.dtype,
            tensor_parallel_size=self.tensor_parallel_size,
            enable_prefix_caching=self.enable_prefix_caching,
            seed=self.seed,
            worker_extension_cls=EXTENSION,
        )
        if self.max_model_len is not None:
            kwargs["max_model_len"] = self.max_model_len
        if self.logprobs_mode is not None:
            kwargs["logprobs_mode"] = self.logprobs_mode
        return {**kwargs, **self.engine_kwargs}


class VLLMPolicy:
    """Samples actions with vLLM for a batch of episodes (see module docstring)."""

    def __init__(
        self,
        model: str,
        tokenizer,
        config: GenerationConfig | None = None,
        engine: VLLMConfig | None = None,
        *,
        llm: Any = None,
    ):
        vllm = require_vllm()
        self.model_name = model
        self.config = config or GenerationConfig()
        self.tokenizer = tokenizer
        self.chat = ChatFormat(tokenizer, system_prompt=self.config.system_prompt)
        self.eos_id = tokenizer.eos_token_id
        self.llm = llm if llm is not None else vllm.LLM(model=model, **(engine or VLLMConfig()).llm_kwargs())
        self.seed: int | None = None
        self._sampling = self._sampling_params(vllm)

    @classmethod
    def from_pretrained(
        cls, model: str, config: GenerationConfig | None = None, engine: VLLMConfig | None = None
    ):
        require_vllm()  # before loading anything: without vLLM the tokenizer is of no use
        return cls(model, load_tokenizer(model), config, engine)

    def _sampling_params(self, vllm):
        temperature = 0.0 if self.config.greedy else self.config.temperature
        return vllm.SamplingParams(
            temperature=temperature,
            top_p=self.config.top_p,
            top_k=self.config.top_k if self.config.top_k > 0 else -1,
            max_tokens=self.config.max_new_tokens,
            logprobs=0,
            skip_special_tokens=True,
            seed=self.seed,
        )

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._sampling = self._sampling_params(require_vllm())

    def evaluation_view(self, *, greedy: bool, seed: int) -> "VLLMPolicy":
        """The same engine with evaluation sampling settings."""
        view = VLLMPolicy(self.model_name, self.tokenizer, replace(self.config, greedy=greedy), llm=self.llm)
        view.reseed(seed)
        return view

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        # The same context rows as HFPolicy (one implementation of the token-exact layout).
        rows = [HFPolicy.prompt_context(self, item) for item in inputs]  # type: ignore[arg-type]
        live = [i for i, row in enumerate(rows) if not row.exhausted]
        prompts = [{"prompt_token_ids": rows[i].context} for i in live]
        results = self.llm.generate(prompts, self._sampling, use_tqdm=False) if live else []
        outputs = [ActionOutput(text="", context_exhausted=True) for _ in rows]
        for i, result in zip(live, results):
            outputs[i] = completion_output(
                rows[i].appended, rows[i].new_context, result.outputs[0], self.eos_id
            )
        return outputs

    def load_weights(self, state_dict: Mapping[str, Any]) -> None:
        """Copy the learner's weights into every vLLM worker, then drop KV blocks of the old weights."""
        named = [(name, tensor.detach().cpu()) for name, tensor in state_dict.items()]
        if hasattr(self.llm, "collective_rpc"):
            self.llm.collective_rpc("agentrl_load_weights", args=(named,))
        else:  # older vLLM: the model lives in this process
            self.llm.llm_engine.model_executor.driver_worker.model_runner.model.load_weights(weights=named)
        if hasattr(self.llm, "reset_prefix_cache"):
            self.llm.reset_prefix_cache()


def completion_output(
    appended: list[int], new_context: bool, completion: Any, eos_id: int | None
) -> ActionOutput:
    """An :class:`ActionOutput` from a vLLM ``CompletionOutput`` (token ids, per-position logprob dicts)."""
    tokens = [int(t) for t in completion.token_ids]
    if completion.logprobs is None or len(completion.logprobs) != len(tokens):
        raise RuntimeError(
            "vLLM returned no log-prob for some sampled tokens; SamplingParams needs logprobs=0"
        )
    logprobs = [float(position[token].logprob) for position, token in zip(completion.logprobs, tokens)]
    finished = completion.finish_reason == "stop" or (bool(tokens) and tokens[-1] == eos_id)
    return turn_output(completion.text, appended, new_context, tokens, logprobs, finished)


class WeightSyncExtension:
    """Mixed into vLLM's GPU workers (``worker_extension_cls``): receives the learner's weights."""

    model_runner: Any

    def agentrl_load_weights(self, named_tensors: list[tuple[str, Any]]) -> None:
        self.model_runner.model.load_weights(weights=named_tensors)

