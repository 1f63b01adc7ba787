"""PyTorch side of `cargo xtask bench train`.

The same fully connected VAE and optimiser as songvae's `vae` architecture:
input -> Linear(hidden) -> ReLU -> Linear(hidden/2) -> ReLU -> mean / logvar
(Linear(latent) each); decoder latent -> Linear(hidden/2) -> ReLU ->
Linear(hidden) -> ReLU -> Linear(input). Loss: squared error summed over
features + KL summed over latents, both averaged over the batch; Adam lr 1e-3.
Prints one JSON line with training steps per second.
"""

import argparse
import json
import time

import torch
from torch import nn


class Vae(nn.Module):
    def __init__(self, input_dim, hidden_dim, latent_dim):
        super().__init__()
        half = max(hidden_dim // 2, latent_dim)
        self.encoder = nn.Sequential(
            nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, half), nn.ReLU()
        )
        self.to_mean = nn.Linear(half, latent_dim)
        self.to_logvar = nn.Linear(half, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, half),
            nn.ReLU(),
            nn.Linear(half, hidden_dim),
            nn.ReLU(),
            nn.Linear(hidden_dim, input_dim),
        )

    def loss(self, batch):
        hidden = self.encoder(batch)
        mean = self.to_mean(hidden)
        logvar = self.to_logvar(hidden)
        latent = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        reconstruction = self.decoder(latent)
        reconstruction_loss = (reconstruction - batch).square().sum() / batch.shape[0]
        kl = (0.5 * (mean.square() + logvar.exp() - logvar - 1.0).sum(dim=1)).mean()
        return reconstruction_loss + kl


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--input-dim", type=int, default=64)
    parser.add_argument("--hidden-dim", type=int, default=256)
    parser.add_argument("--latent-dim", type=int, default=16)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Vae(args.input_dim, args.hidden_dim, args.latent_dim)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.randn(4096, args.input_dim)
    batches = 4096 // args.batch_size

    def step(index):
        start = (index % batches) * args.batch_size
        loss = model.loss(data[start : start + args.batch_size])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        return loss

    for index in range(args.warmup):
        step(index)
    started = time.perf_counter()
    loss = None
    for index in range(args.steps):
        loss = step(index)
    seconds = time.perf_counter() - started
    print(json.dumps({"steps_per_sec": args.steps / seconds, "seconds": seconds, "final_loss": loss.item()}))


if __name__ == "__main__":
    main()
