"""Probe: would an ex-post fitted p(z_1:T) close the f-kept gap? (issue 4, not a target run)

Encodes the training split with a trained run, fits a 64-component diagonal Gaussian mixture
to the flattened posterior means of z_1:T, and decodes the first N test sequences' f with
z_1:T from (a) the model's LSTM prior, (b) that mixture, (c) the sequences' own posterior.
Prints the judge's accuracy on each static factor.

    python benchmarks/probe_z_prior.py RUN --data data/sprites --judge runs/judge_sprites.pt
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from dsae.train.priors import fit_mixture

from dsae.data import load_split
from dsae.eval.judge import load_judge, predict_proba
from dsae.eval.protocols import encode_split
from dsae.train.loop import load_run, tensor_to_frames


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--data", default="data/sprites")
    p.add_argument("--judge", default="runs/judge_sprites.pt")
    p.add_argument("-n", type=int, default=900, help="test sequences")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    model = load_run(args.run).model
    train, test = load_split(args.data, "train"), load_split(args.data, "test")
    z = encode_split(model, train.x, 500).z_mean.flatten(1)
    gmm = fit_mixture(z.double().numpy(), 64, args.seed)
    judge = load_judge(args.judge).judge
    n, g = args.n, torch.Generator().manual_seed(args.seed)
    names = list(test.meta.static_factors)
    e = encode_split(model, test.x[:n], 500)
    t = e.z_mean.shape[1]
    with torch.no_grad():
        fitted = torch.from_numpy(gmm.sample(n)[0]).float().view(n, t, -1)
        sources = {
            "LSTM prior": model.sample_z(n, t, g),
            "mixture over z_1:T": fitted[torch.randperm(n, generator=g)],
            "own posterior": e.z_mean,
        }
        for name, zs in sources.items():
            probs = predict_proba(judge, tensor_to_frames(model.decode(e.f_mean, zs)))
            acc = {
                k: round(100 * float(np.mean(probs[k].argmax(1) == test.static[:n, i])), 1)
                for i, k in enumerate(names)
            }
            print(f"{name:>20}: {acc}")


if __name__ == "__main__":
    main()
