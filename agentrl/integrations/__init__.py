"""Adapters to other training frameworks. Each one lives in its own module and is imported on demand
(``agentrl.integrations.trl`` needs ``pip install 'agentrl[trl]'``), so importing this package is free."""
