"""Benchmarks of jaxopt_lab: runnable scripts and their recorded results.

Each benchmark module exposes ``run(quick: bool = False) -> dict`` (JSON
serialisable: ``{"benchmark", "machine", "rows", "summary"}``) and a
``main()``; they import the public API of ``jaxopt_lab`` only.
"""
