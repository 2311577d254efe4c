"""MiniHack/NetHack on the real NLE engine (``agentrl/MiniHack-v0``); see ``docs/minihack.md``.

Modules: ``tasks`` (task names -> MiniHack ids, and how MiniHack ships each task), ``character``
(NetHack character strings), ``actions`` (text action parser, key mapping and the tasks' action
sets), ``engine`` (drives NLE, answers its prompts, runs KeyRoom's apply script), ``nle_step`` (one
key through the task's step), ``language`` (our language observation), ``nle_language`` (the NetHack
Language Wrapper's texts and BALROG's layouts), ``subgoals`` (oracles and shaping), ``env`` (the
Gymnasium env), ``expert`` (a scripted navigation policy).
Nothing here imports the engine until the env is made.
"""
