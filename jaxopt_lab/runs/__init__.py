"""Everything that writes a result folder, in one place.

- :mod:`~jaxopt_lab.runs.training`: the MNIST training run that owns its folder
  (``config.json``, checkpoints, ``losses.npy``, ``summary.json``, resume, NaN stop);
- :mod:`~jaxopt_lab.runs.outputs`: the 2-D lab's and the MNIST sweep's folders
  (trajectories, sweeps, their figures and JSON);
- :mod:`~jaxopt_lab.runs.streamed_sweep`: a 2-D sweep too large for memory,
  streamed point by point to a Parquet file;
- :mod:`~jaxopt_lab.runs.demo`: the tutorial's two experiments and their report.

The low-level writing (atomic files, JSON, the folder lock, Parquet) is
:mod:`jaxopt_lab.files`; how a result is shown is :mod:`jaxopt_lab.report`.
"""
