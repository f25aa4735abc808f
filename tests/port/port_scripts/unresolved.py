"""A script whose learning rate and schedule length are bound at run time."""

import argparse

import torch
from torch.optim.lr_scheduler import OneCycleLR

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=1e-3)
args = parser.parse_args()
loader = range(50)

model = torch.nn.Linear(16, 8)
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.95))
scheduler = OneCycleLR(optimizer, max_lr=args.lr, total_steps=len(loader) * 4)

for _epoch in range(4):
    for _batch in loader:
        optimizer.step()
        scheduler.step()
