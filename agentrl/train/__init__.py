"""The learner: configs, exact-token rollouts, credit assignment, losses and the training loop.

``agentrl.train`` is both this package and the public entry point ``agentrl.train(config)``: once
any submodule (``agentrl.train.loop``...) is imported, Python binds the package to the
``agentrl.train`` attribute, which would shadow a plain function. Making the package callable keeps
``agentrl.train(config, **overrides)`` working in every import order.
"""

import importlib
import sys
import types


class _CallableModule(types.ModuleType):
    def __call__(self, config=None, **overrides):
        # The loop (and torch) loads on the first call, so ``import agentrl`` stays light.
        return importlib.import_module("agentrl.train.loop").train(config, **overrides)


sys.modules[__name__].__class__ = _CallableModule
