"""MiniHack/NetHack on the real NLE engine (``agentrl/MiniHack-v0``); see ``docs/minihack.md``.

Modules: ``tasks`` (task names -> MiniHack ids), ``actions`` (text action parser and key mapping),
``engine`` (drives NLE and answers its prompts), ``language`` (language observation), ``subgoals``
(oracles and shaping), ``env`` (the Gymnasium env), ``expert`` (a scripted navigation policy).
Nothing here imports the engine until the env is made.
"""
