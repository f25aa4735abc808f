"""The workloads' validation targets, set as AlgoPerf sets them.

AlgoPerf's target of a workload is the validation metric that the best of its
well-tuned baselines reaches with a larger budget. ``benchmarks/targets.py``
does the same here: AdamW, NAdamW and Nesterov, each tuned over its default
space with 27 trials (a leaderboard study has 5) at the workload's step budget;
the target is the best final validation metric, rounded to two significant
digits towards the easier side. Command and output:
``benchmarks/results/cpu/targets.json``; the numbers below are copied from it,
except for ``modular_addition``, whose target the issue fixes:

``modular_addition``: 0.99. The baselines' default spaces (learning rates up to
1e-2) stay at chance (0.005-0.011) within 1000 steps; AdamW at learning rate 3e-2
with weight decay 0.3-1 reaches 1.0 by step 900 (docs/workloads.md): the target is
reachable, by the optimizers and spaces that suit the task.
"""

from __future__ import annotations

TARGETS: dict[str, float] = {
    "noisy_quadratic": 0.11,  # best baseline 0.1021 (NAdamW)
    "rosenbrock": 0.87,  # best baseline 0.8618 (AdamW); Nesterov's space diverges
    "mnist_mlp": 0.97,  # best baseline 0.9738 (Nesterov): AlgoPerf's 0.97 too
    "tutorial_mlp": 0.97,  # best baseline 0.9756 (NAdamW)
    "modular_addition": 0.99,
}
