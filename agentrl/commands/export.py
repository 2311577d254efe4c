"""``agentrl export``: write a trained run's model as a Hugging Face transformers folder."""

from __future__ import annotations

from agentrl.commands import command_parser
from agentrl.train.export import export_run


def add_parser(subparsers) -> None:
    parser = command_parser(
        subparsers, "export", "Export a run's language model (latest checkpoint, or the one named) as a "
        "transformers folder that AutoModelForCausalLM.from_pretrained and --policy hf:DIR load.",
        "  agentrl export runs/quickstart --to exported/quickstart\n"
        "  agentrl export runs/qwen-lora --to exported/qwen --merge-lora     # LoRA merged into the weights\n"
        "  agentrl export runs/qwen-lora --to exported/qwen-adapter          # the peft adapter alone\n"
        "  agentrl export runs/quickstart/checkpoints/iter-000010 --to exported/iter10\n"
        "  agentrl eval --policy hf:exported/quickstart --run runs/quickstart   # play it on the run's rooms",
    )
    parser.add_argument("run", metavar="RUN", help="run folder, its checkpoints/ folder or one checkpoint folder")
    parser.add_argument("--to", required=True, metavar="DIR", help="folder to write (must be new or empty)")
    parser.add_argument("--merge-lora", action="store_true",
                        help="merge LoRA adapters into the base weights (a plain model; needed for the tiny base)")
    parser.add_argument("--overwrite", action="store_true", help="write into a non-empty --to folder")
    parser.set_defaults(func=run)


def run(args) -> int:
    result = export_run(args.run, args.to, merge_lora=args.merge_lora, overwrite=args.overwrite)
    what = {"model": "model", "merged": "model with its LoRA adapters merged", "adapter": "LoRA adapter"}[result.kind]
    print(f"wrote the {what} of {result.checkpoint} (iteration {result.iteration}) to {result.path}")
    print(f"load it with: AutoModelForCausalLM.from_pretrained({str(result.path)!r}) or --policy hf:{result.path}")
    return 0
