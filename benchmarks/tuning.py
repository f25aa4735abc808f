"""How fast is a tuning study in one program, and what does halving inside it save?

    PYTHONPATH=. python benchmarks/tuning.py [--quick] [--out benchmarks/results/cpu/tuning.json]

Three measurements, each baseline and subject interleaved in this one process
(other processes share the CPU: quote the ratios, not the seconds):

* ``throughput``: a 16-trial study of Adam (its default space, warmup + cosine) as
  one program (:func:`jaxopt_lab.tuning.study`), against the same 16 trials one by
  one with the lab (a one-point study each, the same compiled program reused) and
  against a plain optax training loop in Python as a user would write it (a jitted
  step per trial, ``optax.adamw`` with the same schedule, a Python loop over steps
  and evaluations). Trial-steps per second, wall time including compilation.
* ``halving``: 27 trials, η = 3, against the full 27-trial study: does halving keep
  the full study's best trial, and at what share of its lane-steps?
* ``optuna``: Optuna's TPE sampler with its ``SuccessiveHalvingPruner`` (η = 3, the
  same space, trial budget and workload; each trial a plain optax loop reporting
  every evaluation), timed until it first matches the best validation metric that
  the lab's halving study found; the lab's time is that study's wall time.
  (``pip install 'jaxopt-lab[benchmark]'``; skipped when Optuna is missing.)
* ``hyperoptax``: hyperoptax's ``RandomSearch`` with ``n_parallel`` = the trial count
  evaluates ``f(key, config) -> final validation metric`` for every trial as one vmapped
  call: the full study (no halving: a trial reports one number, at its end), on the
  same space ranges (its own random points, not AlgoPerf's Halton set) and budget, each
  trial a plain optax loop in ``lax.scan``. Against the lab's full study of the same
  trial count: wall time, and each search's best metric. (Skipped when hyperoptax is
  missing.)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import jax
import optax

from jaxopt_lab.tuning import default_space, search_points, study
from jaxopt_lab.tuning.schedules import warmup_cosine
from jaxopt_lab.workloads import get_workload

OPTIMIZER = "adamw"


def optax_trial_parts(workload, point, steps, train, seed=0):
    """What a plain optax trial is made of, as a user writes it: ``optax.adamw`` with the
    warmup-cosine schedule, the initial params, and one step ``(params, state, index) ->
    (params, state, loss)`` on the seed's batches. The lab's study draws the same keys."""
    schedule = warmup_cosine(point["learning_rate"], point.get("warmup_factor", 0.0), steps)
    optimizer = optax.adamw(schedule, b1=1 - point["one_minus_beta1"], b2=point["beta2"],
                            weight_decay=point["weight_decay"])  # fmt: skip
    init_key, batch_key = jax.random.split(jax.random.fold_in(jax.random.key(seed), 0))

    def step(params, state, index):
        batch = workload.sample_batch(train, jax.random.fold_in(batch_key, index))
        loss, grads = jax.value_and_grad(workload.loss)(params, batch, 0.0)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    return optimizer, workload.init_params(init_key), step


def plain_optax_trial(workload, point, steps, seed=0):
    """One trial as a user writes it: a jitted step, a Python loop. Yields the validation
    metric after every ``eval_every`` steps."""
    train = tuple(jax.numpy.asarray(a) for a in workload.train)
    validation = tuple(jax.numpy.asarray(a) for a in workload.validation)
    optimizer, params, step = optax_trial_parts(workload, point, steps, train, seed)
    state = optimizer.init(params)
    step = jax.jit(step)
    metric = jax.jit(workload.validation_metric)
    for index in range(steps):
        params, state, _ = step(params, state, index)
        if (index + 1) % workload.eval_every == 0:
            yield index + 1, float(metric(params, validation))


def throughput(workload, steps, trials=16):
    space = default_space(OPTIMIZER)
    points = search_points(space, trials)
    begin = time.perf_counter()
    whole = study(OPTIMIZER, space, workload, trials=trials, steps=steps)
    study_seconds = time.perf_counter() - begin
    begin = time.perf_counter()
    lone_run_seconds = 0.0
    for point in points:
        lone_run_seconds += study(OPTIMIZER, [point], workload, trials=1, steps=steps).run_seconds
    one_by_one = time.perf_counter() - begin
    begin = time.perf_counter()
    for point in points:
        for _ in plain_optax_trial(workload, point, steps):
            pass
    plain = time.perf_counter() - begin
    trial_steps = trials * steps
    return {
        "workload": workload.name, "trials": trials, "steps": steps,
        "study_seconds": study_seconds, "study_compile_seconds": whole.compile_seconds,
        "one_by_one_seconds": one_by_one, "plain_optax_seconds": plain,
        "study_trial_steps_per_second": trial_steps / study_seconds,
        "speedup_vs_one_by_one": one_by_one / study_seconds,
        "study_run_seconds": whole.run_seconds, "one_by_one_run_seconds": lone_run_seconds,
        "run_only_speedup_vs_one_by_one": lone_run_seconds / whole.run_seconds,
        "speedup_vs_plain_optax": plain / study_seconds,
    }  # fmt: skip


def halving(workload, steps, trials=27, eta=3):
    space = default_space(OPTIMIZER)
    begin = time.perf_counter()
    full = study(OPTIMIZER, space, workload, trials=trials, steps=steps)
    full_seconds = time.perf_counter() - begin
    begin = time.perf_counter()
    halved = study(OPTIMIZER, space, workload, trials=trials, steps=steps, halving=eta)
    halved_seconds = time.perf_counter() - begin
    full_best = full.best_trials().iloc[0]
    halved_best = halved.best_trials().iloc[0]
    return {
        "workload": workload.name, "trials": trials, "eta": eta, "steps": steps,
        "full_best_trial": int(full_best["trial"]),
        "full_best_metric": float(full_best["validation_metric"]),
        "halving_best_trial": int(halved_best["trial"]),
        "halving_best_metric": float(halved_best["validation_metric"]),
        "found_full_best": int(full_best["trial"]) == int(halved_best["trial"]),
        "lane_step_fraction": halved.compute_fraction,
        "full_seconds": full_seconds, "halving_seconds": halved_seconds,
    }  # fmt: skip


def optuna_comparison(workload, steps, trials=27, eta=3):
    try:
        import optuna
    except ImportError:
        return {"skipped": "optuna is not installed (pip install 'jaxopt-lab[benchmark]')"}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = default_space(OPTIMIZER)
    begin = time.perf_counter()
    lab = study(OPTIMIZER, space, workload, trials=trials, steps=steps, halving=eta)
    lab_seconds = time.perf_counter() - begin
    goal = float(lab.best_trials().iloc[0]["validation_metric"])
    sign = 1 if workload.direction == "maximize" else -1
    reached_at = [None]
    begin = time.perf_counter()

    def objective(trial):
        point = {}
        for name, spec in space.items():
            if "feasible_points" in spec:
                point[name] = trial.suggest_categorical(name, spec["feasible_points"])
            else:
                point[name] = trial.suggest_float(name, spec["min"], spec["max"],
                                                  log=spec["scaling"] == "log")  # fmt: skip
        value = float("nan")
        for step, value in plain_optax_trial(workload, point, steps):
            if reached_at[0] is None and sign * value >= sign * goal:
                reached_at[0] = time.perf_counter() - begin
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    sampler = optuna.samplers.TPESampler(seed=0)
    pruner = optuna.pruners.SuccessiveHalvingPruner(reduction_factor=eta)
    optimization = optuna.create_study(direction=workload.direction, sampler=sampler,
                                       pruner=pruner)  # fmt: skip
    optimization.optimize(objective, n_trials=trials)
    optuna_seconds = time.perf_counter() - begin
    return {
        "workload": workload.name, "trials": trials, "eta": eta, "steps": steps,
        "lab_halving_seconds": lab_seconds, "lab_best_metric": goal,
        "optuna_seconds": optuna_seconds, "optuna_best_metric": optimization.best_value,
        "optuna_seconds_to_lab_best": reached_at[0],
        "speedup_to_same_metric": None if reached_at[0] is None else reached_at[0] / lab_seconds,
        "speedup_whole_search": optuna_seconds / lab_seconds,
    }  # fmt: skip


def scanned_optax_trial(workload, point, steps, train, validation, seed=0):
    """One trial as a traced function (for a vmapping tuner): the plain optax step in a
    ``lax.scan``; the final validation metric."""
    optimizer, params, step = optax_trial_parts(workload, point, steps, train, seed)

    def scanned(carry, index):
        params, state, _ = step(*carry, index)
        return (params, state), None

    (params, _), _ = jax.lax.scan(scanned, (params, optimizer.init(params)),
                                  jax.numpy.arange(steps))  # fmt: skip
    return workload.validation_metric(params, validation)


def hyperoptax_comparison(workload, steps, trials=16):
    try:
        import hyperoptax
    except ImportError:
        return {"skipped": "hyperoptax is not installed (pip install 'jaxopt-lab[benchmark]')"}
    space = default_space(OPTIMIZER)
    their_space = {}
    for name, spec in space.items():
        if "feasible_points" in spec:
            their_space[name] = hyperoptax.DiscreteSpace(list(spec["feasible_points"]))
        elif spec["scaling"] == "log":
            their_space[name] = hyperoptax.LogSpace(spec["min"], spec["max"])
        else:
            their_space[name] = hyperoptax.LinearSpace(spec["min"], spec["max"])
    train = tuple(jax.numpy.asarray(a) for a in workload.train)
    validation = tuple(jax.numpy.asarray(a) for a in workload.validation)
    sign = 1 if workload.direction == "maximize" else -1

    def objective(key, config):  # hyperoptax maximizes
        del key  # common batches, as the lab's lanes
        return sign * scanned_optax_trial(workload, config, steps, train, validation)

    begin = time.perf_counter()
    state, search = hyperoptax.RandomSearch.init(their_space, n_parallel=trials)
    _, (_, results) = search.optimize(state, jax.random.key(0), objective, n_iterations=1)
    their_best = sign * float(jax.numpy.nanmax(results[0]))
    their_seconds = time.perf_counter() - begin
    jax.clear_caches()  # the lab compiles too, as hyperoptax does on every call
    begin = time.perf_counter()
    lab = study(OPTIMIZER, space, workload, trials=trials, steps=steps)
    lab_seconds = time.perf_counter() - begin
    return {
        "workload": workload.name, "trials": trials, "steps": steps,
        "lab_study_seconds": lab_seconds, "lab_compile_seconds": lab.compile_seconds,
        "lab_best_metric": float(lab.best_trials().iloc[0]["validation_metric"]),
        "hyperoptax_seconds": their_seconds, "hyperoptax_best_metric": their_best,
        "speedup": their_seconds / lab_seconds,
    }  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--parts", nargs="+",
                        default=["throughput", "halving", "optuna", "hyperoptax"])  # fmt: skip
    parser.add_argument("--workloads", nargs="+", default=None, help="only these workloads")
    parser.add_argument(
        "--append",
        action="store_true",
        help="add the rows to --out (a row of the same part and workload replaced)",
    )
    args = parser.parse_args(argv)
    scale = 0.2 if args.quick else 1.0

    def budget(name, steps):
        workload = get_workload(name)
        steps = max(workload.eval_every, int(steps * scale) // workload.eval_every
                    * workload.eval_every)  # fmt: skip
        return dataclasses.replace(workload, steps=steps), steps

    previous = json.loads(args.out.read_text()) if args.append and args.out.exists() else {}
    results = {"command": "PYTHONPATH=. python benchmarks/tuning.py"
               + (" --quick" if args.quick else ""),
               "machine": f"{platform.processor() or platform.machine()}, "
               f"{jax.devices()[0].platform}, {jax.device_count()} device(s)",
               "note": "quote the ratios: each baseline runs beside its subject"}  # fmt: skip

    def record(part, row):
        print(json.dumps(row), flush=True)
        kept = [r for r in results.get(part, []) if r.get("workload") != row.get("workload")]
        results[part] = kept + [row]
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=1) + "\n")

    for part in ("throughput", "halving", "optuna", "hyperoptax"):
        if part in previous:
            results[part] = previous[part]
    chosen = lambda name: args.workloads is None or name in args.workloads
    if "throughput" in args.parts:
        for name, steps in (("noisy_quadratic", 500), ("rosenbrock", 2000), ("mnist_mlp", 300)):
            if chosen(name):
                record("throughput", throughput(*budget(name, steps)))
    if "halving" in args.parts:
        for name, steps in (("noisy_quadratic", 500), ("rosenbrock", 2000),
                            ("modular_addition", 1000), ("mnist_mlp", 1000)):  # fmt: skip
            if chosen(name):
                record("halving", halving(*budget(name, steps)))
    if "optuna" in args.parts:
        for name, steps in (("noisy_quadratic", 500), ("mnist_mlp", 1000)):
            if (args.workloads is None and name == "noisy_quadratic") or (
                args.workloads is not None and name in args.workloads
            ):
                record("optuna", optuna_comparison(*budget(name, steps)))
    if "hyperoptax" in args.parts:
        for name, steps in (("noisy_quadratic", 500), ("rosenbrock", 2000), ("mnist_mlp", 300)):
            if chosen(name):
                record("hyperoptax", hyperoptax_comparison(*budget(name, steps)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
