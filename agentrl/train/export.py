"""``agentrl export``: a trained run's language model as a Hugging Face transformers folder.

The checkpoint's ``state.pt`` holds the learner's model (wrapped by peft when LoRA is on), its
optimizer and the reward pipeline. Export rebuilds the run's model from the config stored with the
checkpoint, loads the weights, and writes what ``transformers`` and ``hf:DIR`` load:

* a full model (``save_pretrained``: ``config.json`` and safetensors weights) and the tokenizer;
* with LoRA and ``merge_lora``: the adapters merged into the base weights, as a plain model;
* with LoRA without merging: the peft adapter (``adapter_config.json``, ``adapter_model.safetensors``)
  naming the run's base model, which ``AutoModelForCausalLM.from_pretrained`` loads through peft.
  The built-in ``tiny`` base exists only in code, so its adapters must be merged.

``agentrl_generation.json`` keeps the run's generation settings (context mode, system prompt,
token limits) so ``hf:DIR`` acts as the run did; ``agentrl_export.json`` says where it came from.
A value head (PPO critic) is not part of the exported policy.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from agentrl.core.config import ConfigError
from agentrl.policies.hf import GENERATION_FILE
from agentrl.train.restore import restore_run

TINY = ("tiny", "agentrl/tiny")


@dataclass
class ExportResult:
    path: Path
    checkpoint: Path
    iteration: int
    kind: str
    """``model`` (full weights), ``merged`` (LoRA merged into them) or ``adapter`` (peft adapter only)."""


def export_run(run: str | Path, out: str | Path, *, merge_lora: bool = False, overwrite: bool = False) -> ExportResult:
    """Write the model of ``run`` (a run folder or checkpoint) to ``out`` as a transformers folder."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise ConfigError(f"{out} exists and is not empty; choose another --to folder (or --overwrite)")
    restored = restore_run(run, device="cpu")
    config = restored.config
    if config.policy.kind != "lm":
        raise ConfigError(f"{restored.checkpoint} is a policy.kind={config.policy.kind} run: only language-model "
                          "runs export to transformers; its network's weights are in state.pt")
    model, tokenizer = restored.agent.language_model, restored.agent.tokenizer
    lora = config.policy.lora.enabled
    if lora and not merge_lora and config.policy.model in TINY:
        raise ConfigError("this run's LoRA adapters sit on the built-in tiny model, which exists only in code, "
                          "so the adapters alone could not be loaded: export with --merge-lora")
    if lora and merge_lora:
        model, kind = model.merge_and_unload(), "merged"
    elif lora:
        model.peft_config["default"].base_model_name_or_path = _base_reference(config.policy.model)
        kind = "adapter"
    else:
        kind = "model"
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    generation = config.policy.generation()
    (out / GENERATION_FILE).write_text(json.dumps(dataclasses.asdict(generation), indent=2))
    (out / "agentrl_export.json").write_text(json.dumps({
        "checkpoint": str(restored.checkpoint), "iteration": restored.iteration, "env": config.env.id,
        "kind": kind, "base_model": config.policy.model, "value_head_exported": False,
    }, indent=2))
    return ExportResult(out, restored.checkpoint, restored.iteration, kind)


def _base_reference(model: str) -> str:
    """How the adapter names its base: an absolute path for a local folder, else the hub name."""
    path = Path(model)
    return str(path.resolve()) if path.exists() else model
