"""Built-in environments, one package per family. Registration is lazy: nothing heavy is
imported until an env is made."""

from agentrl.core.registry import register

BUILTIN_ENVS = {
    "Sokoban-v0": ("agentrl.envs.sokoban.env:SokobanEnv", None, "Push every box onto a goal (procedural rooms or XSB levels)."),
    "WebShop-v0": ("agentrl.envs.webshop.env:WebShopEnv", "webshop", "Find and buy the product that matches an instruction (BM25 search, WebShop reward)."),
    "MiniHack-v0": ("agentrl.envs.minihack.env:MiniHackEnv", "minihack", "MiniHack/NetHack tasks on the real NLE engine, with language observations."),
    "SWE-v0": ("agentrl.envs.swe.env:SWEEnv", "swe", "Fix a bug in a repository inside a sandbox; graded by hidden tests."),
    "Bargaining-v0": ("agentrl.envs.multiagent.bargaining.solo:BargainingSoloEnv", None, "Split a pool of items with a scripted negotiator; both sides have private values (verifiable score)."),
    "Router-v0": ("agentrl.envs.router.env:RouterEnv", "router", "Route a question to candidate LLMs (Router-R1 protocol), trading quality against cost."),
}


def register_builtin_envs() -> None:
    for env_id, (entry_point, extra, description) in BUILTIN_ENVS.items():
        register(env_id, entry_point, description=description, extra=extra)


register_builtin_envs()
