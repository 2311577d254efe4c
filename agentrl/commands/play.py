"""``agentrl play``: play any text environment in the terminal."""

import sys

from agentrl.commands import add_import_option, command_parser, count, import_modules, parse_env_kwargs
from agentrl.core.env import TextEnv
from agentrl.core.policy import wrap_answer
from agentrl.core.registry import make
from agentrl.core.trajectory import observation_text


def add_parser(subparsers) -> None:
    parser = command_parser(
        subparsers, "play", "Play an environment yourself: type actions, see observations and rewards.",
        "  agentrl play agentrl/Sokoban-v0\n"
        "  agentrl play agentrl/Sokoban-v0 --seed 3 --env-arg dim_room=[7,7] --env-arg num_boxes=2\n"
        "  echo -e 'Up\\nLeft' | agentrl play agentrl/Sokoban-v0   # scripted input\n"
        "  agentrl play --import my_envs agentrl/Guess-v0         # an env your module registers\n"
        "  agentrl play my_envs:Guess-v0                          # the same, gymnasium style",
    )
    parser.add_argument("env_id", help="env id, e.g. agentrl/Sokoban-v0, or module:Env-v0")
    parser.add_argument("--seed", type=count(0), default=None)
    parser.add_argument("--env-arg", action="append", metavar="KEY=VALUE", help="env config override")
    parser.add_argument("--raw", action="store_true", help="send your text as-is (no <answer> wrapping)")
    add_import_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    import_modules(args.imports)
    env = make(args.env_id, **parse_env_kwargs(args.env_arg))
    unwrapped = env.unwrapped
    observation, info = env.reset(seed=args.seed)
    if isinstance(unwrapped, TextEnv):
        print(unwrapped.instructions(), "\n")
    total, turn = 0.0, 0
    while True:
        print(observation_text(observation))
        if info.get("available_actions"):
            print(f"[actions: {', '.join(map(str, info['available_actions']))}]")
        line = _read(sys.stdin)
        if line is None or line.strip() in ("quit", "exit"):
            print("bye")
            return 0
        action = line if args.raw or "<" in line else wrap_answer(line, _answer_tag(unwrapped))
        observation, reward, terminated, truncated, info = env.step(action)
        total += reward
        turn += 1
        print(f"-- reward {reward:+.2f} (total {total:+.2f}) {info.get('reward_components', {})}")
        if terminated or truncated:
            print(observation_text(observation))
            outcome = "success" if info.get("success") else ("truncated" if truncated else "ended")
            print(f"Episode over after {turn} turns: {outcome}, return {total:+.2f}")
            return 0


def _read(stream):
    print("> ", end="", flush=True)
    line = stream.readline()
    return None if line == "" else line.rstrip("\n")


def _answer_tag(env) -> str | None:
    return env.config.action_format.answer_tag if isinstance(env, TextEnv) else None
