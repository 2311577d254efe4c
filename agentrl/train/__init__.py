"""The learner: configs, rollouts with exact tokens, advantage math, losses and the training loop."""
