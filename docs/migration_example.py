"""docs/migration.md's worked migration: torch AdamW + OneCycleLR, two groups, moved at step 500.

    PYTHONPATH=. python docs/migration_example.py

Prints how far each moved run lands from torch's own 1000 steps, in float32 and float64.
"""

import warnings

import jax
import numpy as np
import optax
import torch

from jaxopt_lab import crosscheck, port

BEFORE, AFTER = 500, 500
rng = np.random.default_rng(0)
PARAMS = {"bias": rng.standard_normal(64), "weight": rng.standard_normal((64, 32))}
GROUP_OF = {"bias": 1, "weight": 0}  # the weight decayed (group 0), the bias not (group 1)
TREEDEF = jax.tree.structure(PARAMS)
GRADIENTS = jax.tree.leaves(crosscheck.random_gradients(PARAMS, BEFORE + AFTER, seed=1))


def torch_run(dtype):
    """Fresh tensors (bias, weight), the AdamW over its two groups and the OneCycleLR."""
    bias, weight = (torch.tensor(np.asarray(leaf, dtype)) for leaf in jax.tree.leaves(PARAMS))
    optimizer = torch.optim.AdamW(
        [{"params": [weight]}, {"params": [bias], "weight_decay": 0.0}],
        lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1,
    )  # fmt: skip
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=1e-3, total_steps=BEFORE + AFTER
    )
    return [bias, weight], optimizer, scheduler


def torch_steps(run, start, stop, dtype):
    tensors, optimizer, scheduler = run
    for step in range(start, stop):
        for tensor, gradient in zip(tensors, GRADIENTS, strict=True):
            tensor.grad = torch.from_numpy(np.asarray(gradient[step], dtype).copy())
        optimizer.step()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            scheduler.step()


def torch_params(run):
    return TREEDEF.unflatten([tensor.numpy().copy() for tensor in run[0]])


def jax_steps(transformation, state, params, start, stop, dtype):
    update = jax.jit(transformation.update)
    for step in range(start, stop):
        grads = TREEDEF.unflatten([np.asarray(g[step], dtype) for g in GRADIENTS])
        updates, state = update(grads, state, params)
        params = optax.apply_updates(params, updates)
    return jax.tree.map(np.asarray, params), state


def distance(got, want, dtype):
    """The largest normwise relative error of a leaf, and it in ulps of the dtype."""
    pairs = zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True)
    worst = max(crosscheck.normwise_relative_error(a, b) for a, b in pairs)
    return f"{worst / np.finfo(dtype).eps:.2f} ulps of the leaf's scale (relative {worst:.1e})"


def main():
    for dtype in (np.float32, np.float64):
        torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
        with jax.enable_x64(dtype == np.float64):
            reference = torch_run(dtype)
            torch_steps(reference, 0, BEFORE + AFTER, dtype)
            want = torch_params(reference)

            live = torch_run(dtype)  # torch -> JAX at step 500
            torch_steps(live, 0, BEFORE, dtype)
            moved = torch_params(live)
            transformation, state = port.state_from_torch(
                live[1], live[2], like=moved, group_of=GROUP_OF
            )
            got, _ = jax_steps(transformation, state, moved, BEFORE, BEFORE + AFTER, dtype)
            print(dtype.__name__, "torch 500 + JAX 500:", distance(got, want, dtype))

            fresh = torch_run(dtype)  # JAX -> torch at step 500
            transformation = port.from_torch(fresh[1], fresh[2], group_of=GROUP_OF)
            start = jax.tree.map(lambda leaf, dtype=dtype: np.asarray(leaf, dtype), PARAMS)
            halfway, state = jax_steps(
                transformation, transformation.init(start), start, 0, BEFORE, dtype
            )
            port.state_to_torch(state, fresh[1], fresh[2], like=halfway, group_of=GROUP_OF)
            for tensor, leaf in zip(fresh[0], jax.tree.leaves(halfway), strict=True):
                tensor.copy_(torch.from_numpy(leaf.copy()))
            torch_steps(fresh, BEFORE, BEFORE + AFTER, dtype)
            back = torch_params(fresh)
            print(dtype.__name__, "JAX 500 + torch 500:", distance(back, want, dtype))


if __name__ == "__main__":
    main()
