"""The tutorial's NumPy optimizers: the reference for the lab's numbers.

These are the tutorial's classes, kept as written: each has
``update(params, grads)`` that mutates the ``params`` dict in place, and the
formulas are the tutorial's exactly (eps 1e-7 outside the square root, RMSprop
decay 0.99, Adam in the folded "epsilon-hat" form). Run them on float64 arrays
to get the reference trajectory; ``jaxopt_lab.crosscheck`` does that.

Reference only: nothing in the lab imports this module at run time except the
cross-checks, the benchmarks and the tests. The shape of this code (classes that
mutate a dict) is what the lab replaces; its arithmetic is what the lab matches.
"""

from __future__ import annotations

import numpy as np


class SGD:
    """``p -= lr * g``."""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params.keys():
            params[key] -= self.lr * grads[key]


class Momentum:
    """``v = momentum * v - lr * g;  p += v``."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = {}
            for key, val in params.items():
                self.v[key] = np.zeros_like(val)

        for key in params.keys():
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class Nesterov:
    """The tutorial's Nesterov, as the tutorial wrote it.

    ``v = momentum * v - lr * g;  p += momentum**2 * v - (1 + momentum) * lr * g``.
    This is NOT the standard form that optax, torch.optim, Keras and the lab's
    ``nesterov`` share (``p += momentum * v - lr * g``); the two trajectories
    differ from the first step on.
    """

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = {}
            for key, val in params.items():
                self.v[key] = np.zeros_like(val)

        for key in params.keys():
            self.v[key] *= self.momentum
            self.v[key] -= self.lr * grads[key]
            params[key] += self.momentum * self.momentum * self.v[key]
            params[key] -= (1 + self.momentum) * self.lr * grads[key]


class AdaGrad:
    """``h += g**2;  p -= lr * g / (sqrt(h) + 1e-7)``."""

    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {}
            for key, val in params.items():
                self.h[key] = np.zeros_like(val)

        for key in params.keys():
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class RMSprop:
    """``h = decay * h + (1 - decay) * g**2;  p -= lr * g / (sqrt(h) + 1e-7)``."""

    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr = lr
        self.decay_rate = decay_rate
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = {}
            for key, val in params.items():
                self.h[key] = np.zeros_like(val)

        for key in params.keys():
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class Adam:
    """Adam in the folded "epsilon-hat" form (http://arxiv.org/abs/1412.6980v8).

    ``lr_t = lr * sqrt(1 - b2**t) / (1 - b1**t);  m += (1 - b1) * (g - m);
    v += (1 - b2) * (g**2 - v);  p -= lr_t * m / (sqrt(v) + 1e-7)``.
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m, self.v = {}, {}
            for key, val in params.items():
                self.m[key] = np.zeros_like(val)
                self.v[key] = np.zeros_like(val)

        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)

        for key in params.keys():
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


REFERENCES = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSprop,
    "adam": Adam,
}
"""The tutorial's class for each lab optimizer name (the tutorial has no AdamW)."""
