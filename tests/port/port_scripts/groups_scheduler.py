"""Two param groups (no decay on biases) and a warmup-then-cosine schedule per batch."""

import torch
import torch.optim as optim
from torch import nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

BASE_LR = 0.05
WARMUP = 10
EPOCHS = 3

model = nn.Linear(16, 8)
decay = [model.weight]
no_decay = [model.bias]
groups = [
    {"params": decay, "weight_decay": 1e-4},
    {"params": no_decay, "weight_decay": 0.0, "lr": BASE_LR / 10},
]
optimizer = optim.SGD(groups, lr=BASE_LR, momentum=0.9, nesterov=True)
warmup = LinearLR(optimizer, start_factor=0.1, total_iters=WARMUP)
cosine = CosineAnnealingLR(optimizer, T_max=200)
scheduler = SequentialLR(optimizer, schedulers=[warmup, cosine], milestones=[WARMUP])

for _epoch in range(EPOCHS):
    for batch in range(100):
        optimizer.zero_grad()
        model(batch).sum().backward()
        torch.nn.utils.clip_grad_value_(model.parameters(), 0.5)
        optimizer.step()
        scheduler.step()
