"""A plain torch training script: AdamW, gradient clipping, no scheduler."""

import torch
from torch import nn

model = nn.Linear(16, 8)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)

for _batch in range(100):
    loss = model(torch.randn(4, 16)).square().mean()
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()
