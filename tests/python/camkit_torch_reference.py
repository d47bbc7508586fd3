"""References computed from the papers' definitions on eager PyTorch models, for layouts other
than (N, C, H, W) and for attention relevance. Independent of camkit's code.

    a, g, logits = hooked(model, x, module, c)        # the module's output and dy_c/d(output)
    cf(a, "tokens", prefix=1, grid=(14, 14))          # -> (N, C, 14, 14): the standard reshape
    gradcam_map(a_cf, g_cf)                           # Selvaraju et al. eq. 1-2, float64
    relevance = vit_attention_relevance(vit, x, c)    # Chefer et al. 2021 eq. 5-6, torchvision ViT

The token reshape is the one vision-transformer tutorials write by hand (drop the prefix
tokens, unflatten the patch grid row-major, channels first); channels-last maps are permuted.
"""

import math

import torch
import torch.nn.functional as F


def logits_of(out, output=None):
    if isinstance(out, dict):
        return out[output or "logits"]
    if isinstance(out, (tuple, list)):
        return out[int(output or 0)]
    return out


def hooked(model, x, module, c, output=None):
    """(A, dy_c/dA, logits) at `module`'s output for one forward with autograd; y_c is the
    logit of class c (regression: the output value c)."""
    store = {}

    def hook(_m, _i, out):
        store["a"] = out[0] if isinstance(out, tuple) else out

    handle = module.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            xg = x.detach().clone().requires_grad_(True)
            y = logits_of(model(xg), output)
            (g,) = torch.autograd.grad(y[0, c], store["a"])
    finally:
        handle.remove()
    return store["a"].detach(), g.detach(), y.detach()


def cf(t, layout, prefix=0, grid=None):
    """(N, C, h, w) from a layer's output: channels-first as is, channels-last permuted, tokens
    without their prefix, the grid unflattened row-major."""
    if layout == "channels-last":
        return t.permute(0, 3, 1, 2)
    if layout == "tokens":
        n, _, ch = t.shape
        return t[:, prefix:, :].reshape(n, grid[0], grid[1], ch).permute(0, 3, 1, 2)
    return t


def gradcam_map(a, g):
    """Grad-CAM (Selvaraju et al. 2017, eq. 1-2): sum_k mean_ij(g_k) A_k, float64, (h, w)."""
    a, g = a[0].double(), g[0].double()
    return torch.einsum("k,khw->hw", g.mean((1, 2)), a)


def cam_map(a, weight, c):
    """CAM (Zhou et al. 2016, sec. 2): sum_k W[c, k] A_k, float64, (h, w)."""
    return torch.einsum("k,khw->hw", torch.as_tensor(weight)[c].double(), a[0].double())


def explicit_attention(mha, x):
    """nn.MultiheadAttention (batch_first, self-attention, no mask) written out: returns the
    output and the probabilities softmax(q k^T / sqrt(d_head)) as (N, heads, T, T), a tensor
    of the autograd graph whose gradient can be taken."""
    n, t, d = x.shape
    h = mha.num_heads
    q, k, v = F.linear(x, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (z.reshape(n, t, h, d // h).transpose(1, 2) for z in (q, k, v))
    a = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // h), dim=-1)
    out = (a @ v).transpose(1, 2).reshape(n, t, d)
    return mha.out_proj(out), a


def torchvision_vit_forward(vit, x):
    """torchvision.models.VisionTransformer.forward with explicit attention."""
    n = x.shape[0]
    z = vit._process_input(x)
    z = torch.cat([vit.class_token.expand(n, -1, -1), z], dim=1)
    z = vit.encoder.dropout(z + vit.encoder.pos_embedding)
    maps = []
    for block in vit.encoder.layers:
        y = block.ln_1(z)
        y, a = explicit_attention(block.self_attention, y)
        maps.append(a)
        z = z + block.dropout(y)
        z = z + block.mlp(block.ln_2(z))
    z = vit.encoder.ln(z)
    return vit.heads(z[:, 0]), maps


def relevance(maps, grads, prefix, grid):
    """Chefer, Gur & Wolf 2021, eq. 5-6: R = I; R += mean_h((grad * A)^+) R per layer; the
    class token's row over the patch tokens, (h, w), float64."""
    t = maps[0].shape[-1]
    r = torch.eye(t, dtype=torch.float64)
    for a, g in zip(maps, grads):
        r = r + (g[0].double() * a[0].double()).clamp(min=0).mean(0) @ r
    return r[0, prefix:].reshape(grid)


def attention_relevance(forward, x, c, prefix, grid):
    """The relevance map of class c for a forward that returns (logits, [probabilities])."""
    with torch.enable_grad():
        logits, maps = forward(x)
        grads = torch.autograd.grad(logits[0, c], maps)
    return relevance([m.detach() for m in maps], grads, prefix, grid), logits.detach()
