"""The lab's benchmarks, installed with it: ``jaxopt-lab bench`` runs them.

Each module exposes ``run(quick: bool = False) -> dict`` (JSON serialisable:
``{"benchmark", "machine", "rows", "summary"}``), ``markdown(result) -> str`` and a
``main()``; they use the public API of ``jaxopt_lab`` only. The repository's
top-level ``benchmarks/`` folder holds their recorded results and runnable
entry points (``python -m benchmarks``, ``python benchmarks/sweep.py``).
"""
