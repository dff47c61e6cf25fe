"""PyTorch peer of bench.mjs: the same per-step operations, vectorised as the reference MaskGIT sampler does."""
import json
import math
import sys
import time

import torch


def counts_arccos(n, L):
    r = torch.linspace(1, 0, n)
    v = torch.arccos(r) / (math.pi * 0.5)
    k = (v / v.sum() * L).round()
    k[k == 0] = 1
    k[-1] += L - k.sum()
    return k.int().tolist()


def run(cfg, K, D, N, W, logits, f, v):
    L, B = cfg["L"], cfg["B"]
    counts = counts_arccos(N, L)
    mask_id = K
    state = torch.full((B, L), mask_id, dtype=torch.long)
    for i in range(N):
        w = W * i / (N - 1)
        c, u = logits[:B], logits[B:]
        guided = (1 + w) * c - w * u
        probs = torch.softmax(guided * 1.0, -1)
        cand = torch.multinomial(probs.view(-1, K), 1).view(B, L)
        logp = torch.log(torch.gather(probs, 2, cand.unsqueeze(-1)).squeeze(-1))
        gumbel = -torch.log(-torch.log(torch.rand(B, L)))
        conf = logp + 4.5 * gumbel * (1 - i / (N - 1))
        masked = state == mask_id
        conf = torch.where(masked, conf, torch.full_like(conf, -math.inf))
        top = torch.topk(conf, counts[i], dim=-1).indices
        state.scatter_(1, top, torch.gather(cand, 1, top))
        f_next = f + 1.0 * v
    return f_next


def main():
    p = json.loads(sys.argv[1])
    K, D, N, W = p["K"], p["D"], p["N"], p["W"]
    torch.manual_seed(0)
    results = []
    for cfg in p["configs"]:
        L, B = cfg["L"], cfg["B"]
        logits = (torch.rand(2 * B, L, K) - 0.5) * 8
        f = torch.rand(2 * B, L, D)
        v = f.clone()
        run(cfg, K, D, N, W, logits, f, v)
        times = []
        for _ in range(p["repeats"]):
            t0 = time.perf_counter()
            run(cfg, K, D, N, W, logits, f, v)
            times.append((time.perf_counter() - t0) * 1000 / N)
        times.sort()
        results.append({"L": L, "B": B, "ms": times[len(times) // 2]})
        print(f"torch L={L} B={B}: {results[-1]['ms']:.2f} ms/step", file=sys.stderr)
    print(json.dumps({"version": torch.__version__, "threads": torch.get_num_threads(), "results": results}))


if __name__ == "__main__":
    main()
