"""The lab's benchmarks, installed with it: ``jaxopt-lab bench`` runs them.

One module per benchmark, named for what it measures: ``update_speed``,
``sweep_speed``, ``training_speed``, ``checkpoint_speed``, ``sweep_memory``
(:data:`jaxopt_lab.bench.suite.MODULES` maps the benchmark's name to it). Each
exposes ``run(quick: bool = False) -> dict`` (JSON serialisable: ``{"benchmark",
"machine", "rows", "summary"}``), ``markdown(result) -> str`` and a ``main()``
(``python -m jaxopt_lab.bench.sweep_speed [...]``); they use the public API of
``jaxopt_lab`` only. The repository's top-level ``benchmarks/`` folder holds
their recorded results, ``python -m benchmarks`` (the suite) and the accelerator
run (``benchmarks/device/``, not installed).
"""
