"""The recorded benchmark results (``results/``), the suite's entry point and the accelerator run.

The benchmarks live in the installed package, :mod:`jaxopt_lab.bench`; ``jaxopt-lab
bench`` and ``python -m benchmarks`` run the same suite. The accelerator run
(``benchmarks/gpu.sh``) is :mod:`benchmarks.device`, used from a checkout only.
"""
