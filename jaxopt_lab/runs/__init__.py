"""Everything that writes a result folder, in one place.

- :mod:`~jaxopt_lab.runs.training`: the MNIST training run that owns its folder
  (``config.json``, checkpoints, ``losses.npy``, ``summary.json``, resume, NaN stop);
- :mod:`~jaxopt_lab.runs.outputs`: the 2-D lab's and the MNIST sweep's folders
  (trajectories, sweeps, their figures and JSON);
- :mod:`~jaxopt_lab.runs.streamed_sweep`: a 2-D sweep too large for memory,
  streamed point by point to a Parquet file;
- :mod:`~jaxopt_lab.runs.demo`: the tutorial's two experiments and their report;
- :mod:`~jaxopt_lab.runs.tune_folder`: a tuning study's folder (``jaxopt-lab tune``);
- :mod:`~jaxopt_lab.runs.leaderboard_folder`: a leaderboard's folder, resumable cell by
  cell (``jaxopt-lab leaderboard``);
- :mod:`~jaxopt_lab.runs.held_folder`: what the three runs that own a folder (training,
  tune, leaderboard) do on entering it: lock, then check, and let go if the check fails;
- :mod:`~jaxopt_lab.runs.run_files`: the schemas of the files these write, checked before a
  reader draws from them.

The low-level writing (atomic files, JSON, the folder lock, Parquet) is
:mod:`jaxopt_lab.files`; how a result is shown is :mod:`jaxopt_lab.report`.
"""
