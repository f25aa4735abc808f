"""The accelerator run (``benchmarks/gpu.sh``, ``python -m benchmarks.device``), from a checkout.

Not installed with the package: it needs the repository (its tests and
benchmarks) and ``PYTHONPATH`` set to the checkout. :mod:`.session` is the
orchestrator and the command line, :mod:`.plan` the stages and their sizes,
:mod:`.stages` what runs inside a stage's process, :mod:`.summary` the targets
and ``SUMMARY.md``, :mod:`.pytest_deadline` the tests stage's pytest plugin.
"""
