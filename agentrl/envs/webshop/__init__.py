"""WebShop: a faithful, offline re-implementation of Princeton's WebShop benchmark.

``agentrl.make("agentrl/WebShop-v0")`` gives the env; the reward components are importable from
:mod:`agentrl.envs.webshop.reward`. Nothing heavy is imported here.
"""
