"""Runnable entry points of the benchmarks and their recorded results (``results/``).

The code lives in the installed package, :mod:`jaxopt_lab.bench`; ``jaxopt-lab
bench`` and ``python -m benchmarks`` run the same suite.
"""
