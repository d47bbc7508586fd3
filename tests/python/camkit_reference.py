"""Plain PyTorch reference implementations of every CAM method camkit implements.

    import camkit_reference as ref
    raw = ref.gradcam(model, x, model.layer4, class_index)      # float64 tensor [h, w]

Independent of camkit's C++ on purpose: activations A come from a forward hook on the eager
nn.Module (not from a rewritten TorchScript graph), gradients from torch.autograd.grad through
that hook's output, ablation from a forward hook that returns a modified output. Definitions
and papers: docs/methods.md.

Every method takes (model, x, layer, class_index) -- CAM also W -- where model is an eval()
nn.Module, x the normalised input [1, C_in, H, W], layer a submodule of model whose output is
A [1, C, h, w], class_index the logit explained (0 for single-logit models). It returns the
RAW map [h, w] (float64): at feature resolution, before any ReLU, upsampling or min-max.
The model runs in float32 (as camkit does); the combination of A with weights is done in
float64 so the reference carries no accumulation error of its own.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CHUNK = 64  # masked/ablated copies per forward pass (Score-CAM, Ablation-CAM)
XGRAD_EPS = 1e-7


def _logits(out):
    """The logits of a model output (a tensor, or element 0 of a tuple)."""
    while isinstance(out, (tuple, list)):
        out = out[0]
    return out


def activations(model, x, layer):
    """(A [C, h, w] float32, logits [K] float32) of one no-grad forward pass."""
    store = {}
    handle = layer.register_forward_hook(
        lambda _m, _i, out: store.__setitem__("a", out.detach().clone()))
    try:
        with torch.no_grad():
            logits = _logits(model(x))[0]
    finally:
        handle.remove()
    return store["a"][0], logits


def activations_and_gradient(model, x, layer, class_index):
    """(A [C, h, w], g = dy_c/dA [C, h, w], logits [K]), all float32; y_c is the pre-softmax
    logit. x is made to require grad so A does even when the parameters are frozen."""
    store = {}

    def hook(_m, _i, out):
        store["a"] = out  # the very tensor the rest of the forward consumes

    handle = layer.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            xg = x.detach().clone().requires_grad_(True)
            logits = _logits(model(xg))
            a = store["a"]
            (g,) = torch.autograd.grad(logits[0, class_index], a)
    finally:
        handle.remove()
    return a[0].detach().clone(), g[0].detach().clone(), logits[0].detach().clone()


def weighted_sum(weights, a):
    """sum_k weights[k] * A_k in float64: [C] x [C, h, w] -> [h, w]."""
    return torch.einsum("k,khw->hw", weights.double(), a.double())


# ---------------------------------------------------------------- CAM


def cam(model, x, layer, class_index, weight):
    """CAM (Zhou et al. 2016, sec. 2): sum_k W[c, k] A_k. layer must be the input of the
    global average pool and weight [K, C] the linear layer after it."""
    a, _ = activations(model, x, layer)
    return weighted_sum(torch.as_tensor(weight)[class_index], a)


# ---------------------------------------------------------------- gradient methods


def gradcam(model, x, layer, class_index):
    """Grad-CAM (Selvaraju et al. 2017, eq. 1): w_k = mean_ij g_kij; sum_k w_k A_k."""
    a, g, _ = activations_and_gradient(model, x, layer, class_index)
    return weighted_sum(g.double().mean(dim=(1, 2)), a)


def gradcam_pp_weights(a, g):
    """Grad-CAM++ channel weights (Chattopadhyay et al. 2018, eq. 19 with the exponential
    score): alpha = g^2 / (2 g^2 + sum_ab A_ab g^3), 0 where the denominator is 0 (g == 0);
    w_k = sum_ij alpha_kij ReLU(g_kij)."""
    a, g = a.double(), g.double()
    sum_a = a.sum(dim=(1, 2), keepdim=True)
    g2 = g * g
    denom = 2.0 * g2 + sum_a * g2 * g
    safe = torch.where(denom != 0, denom, torch.ones_like(denom))
    alpha = torch.where(denom != 0, g2 / safe, torch.zeros_like(g2))
    return (alpha * F.relu(g)).sum(dim=(1, 2))


def gradcam_pp(model, x, layer, class_index):
    """Grad-CAM++: sum_k w_k A_k with gradcam_pp_weights."""
    a, g, _ = activations_and_gradient(model, x, layer, class_index)
    return weighted_sum(gradcam_pp_weights(a, g), a)


def xgradcam(model, x, layer, class_index):
    """XGrad-CAM (Fu et al. 2020): w_k = sum_ij A_kij g_kij / (sum_ij A_kij + 1e-7)."""
    a, g, _ = activations_and_gradient(model, x, layer, class_index)
    a64, g64 = a.double(), g.double()
    w = (a64 * g64).sum(dim=(1, 2)) / (a64.sum(dim=(1, 2)) + XGRAD_EPS)
    return weighted_sum(w, a)


def layercam(model, x, layer, class_index):
    """Layer-CAM (Jiang et al. 2021): sum_k ReLU(g_k) * A_k (element-wise weights)."""
    a, g, _ = activations_and_gradient(model, x, layer, class_index)
    return (F.relu(g.double()) * a.double()).sum(dim=0)


def hirescam(model, x, layer, class_index):
    """HiResCAM (Draelos & Carin 2020): sum_k g_k * A_k (element-wise, no averaging)."""
    a, g, _ = activations_and_gradient(model, x, layer, class_index)
    return (g.double() * a.double()).sum(dim=0)


def gradcam_elementwise(model, x, layer, class_index):
    """Grad-CAM element-wise (pytorch-grad-cam's GradCAMElementWise): sum_k ReLU(g_k * A_k)."""
    a, g, _ = activations_and_gradient(model, x, layer, class_index)
    return F.relu(g.double() * a.double()).sum(dim=0)


def eigengradcam(model, x, layer, class_index):
    """Eigen-Grad-CAM: the Eigen-CAM projection (first principal component, sign rule) of
    g * A instead of A."""
    a, g, _ = activations_and_gradient(model, x, layer, class_index)
    return first_component(g.double() * a.double())


def weighted_activations(method, a, g):
    """The terms [C, h, w] (float64) whose sum over channels is the method's raw map."""
    a, g = a.double(), g.double()
    if method == "gradcam":
        return g.mean(dim=(1, 2))[:, None, None] * a
    if method == "gradcam++":
        return gradcam_pp_weights(a, g)[:, None, None] * a
    if method == "xgradcam":
        w = (a * g).sum(dim=(1, 2)) / (a.sum(dim=(1, 2)) + XGRAD_EPS)
        return w[:, None, None] * a
    if method == "layercam":
        return F.relu(g) * a
    if method == "hirescam":
        return g * a
    if method == "gradcam-elementwise":
        return F.relu(g * a)
    raise ValueError(method)


def eigen_smooth(method, model, x, layer, class_index):
    """--eigen-smooth (pytorch-grad-cam's eigen_smooth): the first principal component of the
    method's weighted activations instead of their channel sum."""
    a, g, _ = activations_and_gradient(model, x, layer, class_index)
    return first_component(weighted_activations(method, a, g))


def smooth_noise(x, sigma, samples, seed):
    """The noise of smoothgradcam++: [samples, C, H, W] float32 standard normal draws of a
    torch.Generator seeded with `seed`, times sigma * (max x - min x)."""
    gen = torch.Generator().manual_seed(seed)
    scale = sigma * float(x.max() - x.min())
    return torch.randn((samples, *x.shape[1:]), generator=gen) * scale


def smoothgradcam_pp(model, x, layer, class_index, sigma, samples, seed):
    """Smooth Grad-CAM++ (Omeiza et al. 2019): Grad-CAM++ with the derivatives D1 = g,
    D2 = g^2, D3 = g^3 (exponential score) each averaged over the noisy inputs x + n_s;
    alpha = D2 / (2 D2 + sum_ab A_ab D3) (0 where the denominator is 0),
    w_k = sum_ij alpha_kij ReLU(D1_kij), map sum_k w_k A_k with A of the clean input."""
    a, _ = activations(model, x, layer)
    noise = smooth_noise(x, sigma, samples, seed)
    d1 = d2 = d3 = 0
    for s in range(samples):
        _, g, _ = activations_and_gradient(model, x + noise[s:s + 1], layer, class_index)
        g = g.double()
        d1, d2, d3 = d1 + g, d2 + g * g, d3 + g ** 3
    d1, d2, d3 = d1 / samples, d2 / samples, d3 / samples
    sum_a = a.double().sum(dim=(1, 2), keepdim=True)
    denom = 2.0 * d2 + sum_a * d3
    alpha = torch.where(denom != 0, d2 / torch.where(denom != 0, denom, torch.ones_like(denom)),
                        torch.zeros_like(d2))
    return weighted_sum((alpha * F.relu(d1)).sum(dim=(1, 2)), a)


AUGMENTATIONS = [(flip, scale) for flip in (False, True) for scale in (1.0, 0.9, 1.1)]


def aug_smooth(fn, model, x, layer, class_index):
    """--aug-smooth: the mean over horizontal flip x input scale (0.9, 1.0, 1.1) of
    fn(model, x', layer, class_index), each raw map mirrored back when x' was mirrored."""
    total = 0
    for flip, scale in AUGMENTATIONS:
        xa = (x.flip(-1) if flip else x) * scale
        raw = fn(model, xa, layer, class_index)
        total = total + (raw.flip(-1) if flip else raw)
    return total / len(AUGMENTATIONS)


# ---------------------------------------------------------------- guided backpropagation


def guided_gradient(model, x, class_index):
    """d y_c / d x [C_in, H, W] (float32) through the model with every nn.ReLU's backward
    replaced by Springenberg et al.'s guided rule: a full backward hook returns
    ReLU(grad_input), i.e. ReLU(grad_output) where the ReLU's input was positive. Runs on a
    copy whose ReLUs are not in place (backward hooks refuse in-place outputs)."""
    import copy

    guided = copy.deepcopy(model)
    handles = []
    for m in guided.modules():
        if isinstance(m, torch.nn.ReLU):
            m.inplace = False
            handles.append(m.register_full_backward_hook(
                lambda _m, grad_in, _out: (grad_in[0].clamp(min=0),)))
    try:
        with torch.enable_grad():
            xg = x.detach().clone().requires_grad_(True)
            (g,) = torch.autograd.grad(_logits(guided(xg))[0, class_index], xg)
    finally:
        for h in handles:
            h.remove()
    return g[0].detach()


def guided_backprop(model, x, layer, class_index):
    """Guided backpropagation as one map [H, W] (float64): max over input channels of
    |guided gradient|. layer is unused (kept for the common signature)."""
    return guided_gradient(model, x, class_index).double().abs().amax(dim=0)


def guided_gradcam(model, x, layer, class_index):
    """Guided Grad-CAM (Selvaraju et al. 2017, sec. 3): guided backpropagation times the
    Grad-CAM map at `layer`, ReLU'd and upsampled bilinearly (align_corners=False) to the input
    size; reduced to one channel as guided_backprop (the Grad-CAM factor is >= 0)."""
    cam = F.relu(gradcam(model, x, layer, class_index).float())
    up = F.interpolate(cam[None, None], size=x.shape[-2:], mode="bilinear",
                       align_corners=False)[0, 0]
    return guided_backprop(model, x, layer, class_index) * up.double()


# ---------------------------------------------------------------- perturbation methods


def scorecam_masks(a, height, width):
    """Score-CAM masks [C, H, W] float32: each A_k upsampled bilinearly (align_corners=False)
    to the input size, then min-max to [0, 1]; a constant channel gives all zeros."""
    up = F.interpolate(a[None], size=(height, width), mode="bilinear", align_corners=False)[0]
    lo = up.amin(dim=(1, 2), keepdim=True)
    hi = up.amax(dim=(1, 2), keepdim=True)
    span = hi - lo
    ok = span > 0
    return torch.where(ok, (up - lo) / torch.where(ok, span, torch.ones_like(span)),
                       torch.zeros_like(up))


def scorecam_scores(model, x, layer):
    """Logits [C, K] of the C masked inputs x * M_k (float32)."""
    a, _ = activations(model, x, layer)
    masks = scorecam_masks(a, x.shape[-2], x.shape[-1])
    rows = []
    with torch.no_grad():
        for start in range(0, masks.shape[0], CHUNK):
            m = masks[start:start + CHUNK, None]  # [n, 1, H, W], broadcast over input channels
            rows.append(_logits(model(x * m)))
    return torch.cat(rows)


def scorecam(model, x, layer, class_index, scores=None):
    """Score-CAM (Wang et al. 2020, Alg. 1) with logits: s_k = y_c(x * M_k);
    alpha = softmax_k(s); sum_k alpha_k A_k. The baseline term f(X_b) of the paper is the
    same for every k and cancels in the softmax. scores: precomputed scorecam_scores (they
    serve every class)."""
    a, _ = activations(model, x, layer)
    if scores is None:
        scores = scorecam_scores(model, x, layer)
    alpha = torch.softmax(scores[:, class_index].double(), dim=0)
    return weighted_sum(alpha, a)


def sscam_scores(model, x, layer, sigma, samples, seed):
    """SS-CAM (Wang et al. 2020, Alg. 1, noise on the masks): [C, K] float64, row k the mean
    over s = 1..N of the logits of x * (M_k + n_ks), n_ks ~ N(0, sigma^2) per pixel of the
    H x W mask (shared by the input channels). The noise comes from one
    torch.Generator().manual_seed(seed), drawn as randn(N, H, W) for channel 0, 1, ... in
    turn (so camkit and this reference see the same numbers)."""
    a, _ = activations(model, x, layer)
    masks = scorecam_masks(a, x.shape[-2], x.shape[-1])
    gen = torch.Generator().manual_seed(seed)
    rows = []
    with torch.no_grad():
        for k in range(masks.shape[0]):
            noise = torch.randn((samples,) + tuple(x.shape[-2:]), generator=gen) * sigma
            noisy = (masks[k][None] + noise)[:, None]  # [N, 1, H, W]
            rows.append(_logits(model(x * noisy)).double().mean(dim=0))
    return torch.stack(rows)


def iscam_scores(model, x, layer, steps):
    """IS-CAM (Naidu et al. 2020): [C, K] float64, row k the Riemann sum
    (1/N) sum_{t=1..N} y(x * (t/N) M_k) of the logits along the path from the zero mask
    to M_k."""
    a, _ = activations(model, x, layer)
    masks = scorecam_masks(a, x.shape[-2], x.shape[-1])
    rows = []
    with torch.no_grad():
        for k in range(masks.shape[0]):
            path = torch.stack([(t / steps) * masks[k] for t in range(1, steps + 1)])
            rows.append(_logits(model(x * path[:, None])).double().mean(dim=0))
    return torch.stack(rows)


def score_weighted(model, x, layer, class_index, scores):
    """sum_k softmax_k(scores[:, c]) A_k: the Score-CAM combination of SS-CAM and IS-CAM."""
    a, _ = activations(model, x, layer)
    return weighted_sum(torch.softmax(scores[:, class_index].double(), dim=0), a)


def sscam(model, x, layer, class_index, sigma, samples, seed):
    return score_weighted(model, x, layer, class_index,
                          sscam_scores(model, x, layer, sigma, samples, seed))


def iscam(model, x, layer, class_index, steps):
    return score_weighted(model, x, layer, class_index, iscam_scores(model, x, layer, steps))


def fullgrad_psi(t):
    """FullGrad's post-processing of one term, as the authors' reference code
    (idiap/fullgrad-saliency, FullGrad._postProcess): |t|, minus its minimum over the whole
    [C, h, w] tensor, divided by its maximum + 1e-6."""
    t = t.abs()
    t = t - t.min()
    return t / (t.max() + 1e-6)


def fullgrad(model, x, class_index):
    """FullGrad (Srinivas & Fleuret 2019, eq. 6 as the authors' code computes it): the input
    term psi(dy/dx * x) summed over input channels, plus for every nn.Conv2d with a bias and
    every nn.BatchNorm2d (equivalent bias b - mean * w / sqrt(var + eps)) the term
    psi(dy/dz * b) of its output z, upsampled bilinearly (align_corners=True) to H x W and
    summed over channels. Input-resolution map [H, W] float64. Forward hooks on the eager
    model record each layer output and hand a clone on, so later in-place ops (ReLU(inplace),
    the residual +=) cannot touch it."""
    outs, biases, handles = [], [], []

    def hook(mod, _i, out):
        if isinstance(mod, nn.BatchNorm2d):
            b = mod.bias - mod.running_mean * mod.weight / torch.sqrt(mod.running_var + mod.eps)
        else:
            b = mod.bias
        outs.append(out)
        biases.append(b.detach())
        return out.clone()

    for mod in model.modules():
        if isinstance(mod, nn.BatchNorm2d) or (isinstance(mod, nn.Conv2d) and
                                                mod.bias is not None):
            handles.append(mod.register_forward_hook(hook))
    try:
        with torch.enable_grad():
            xg = x.detach().clone().requires_grad_(True)
            y = _logits(model(xg))[0, class_index]
            grads = torch.autograd.grad(y, [xg] + outs, allow_unused=True)
    finally:
        for h in handles:
            h.remove()
    height, width = x.shape[-2:]
    sal = fullgrad_psi(grads[0][0] * x[0]).sum(dim=0).double()
    for g, b in zip(grads[1:], biases):
        if g is None:
            continue
        t = fullgrad_psi(g[0] * b.view(-1, 1, 1))
        up = F.interpolate(t[None], size=(height, width), mode="bilinear", align_corners=True)
        sal = sal + up[0].sum(dim=0).double()
    return sal


def ablation_logits(model, x, layer):
    """Logits [C, K] with channel k of A zeroed (row k), everything else as in the normal
    forward. The forward hook returns n copies of A, copy j with channel start+j set to 0;
    the layers after it see a batch of n (upstream runs once on the single input)."""
    a, _ = activations(model, x, layer)
    c = a.shape[0]
    rows = []
    for start in range(0, c, CHUNK):
        idx = torch.arange(start, min(start + CHUNK, c))

        def hook(_m, _i, out, idx=idx):
            rep = out.expand(len(idx), *out.shape[1:]).clone()
            rep[torch.arange(len(idx)), idx] = 0
            return rep

        handle = layer.register_forward_hook(hook)
        try:
            with torch.no_grad():
                rows.append(_logits(model(x)))
        finally:
            handle.remove()
    return torch.cat(rows)


def ablationcam(model, x, layer, class_index, ablated=None):
    """Ablation-CAM (Desai & Ramaswamy 2020): w_k = (y_c - y_c^(k)) / y_c, y_c^(k) the logit
    with channel k of A zeroed; sum_k w_k A_k. ablated: precomputed ablation_logits."""
    a, logits = activations(model, x, layer)
    if ablated is None:
        ablated = ablation_logits(model, x, layer)
    y = logits[class_index].double()
    w = (y - ablated[:, class_index].double()) / y
    return weighted_sum(w, a)


# ---------------------------------------------------------------- class-independent


def eigencam_from_activations(a):
    """(raw [h, w] float64, singular values) of Eigen-CAM on A [C, h, w]: X = A as
    (positions x channels), each channel centred; projection of X on its first right-singular
    vector; sign chosen so that the map correlates non-negatively with mean_k A_k."""
    c, h, w = a.shape
    x = a.double().numpy().reshape(c, h * w).T
    x = x - x.mean(axis=0, keepdims=True)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    raw = (x @ vt[0]).reshape(h, w)
    mean_map = a.double().numpy().mean(axis=0)
    r = raw.ravel() - raw.mean()
    m = mean_map.ravel() - mean_map.mean()
    if float(r @ m) < 0:  # same sign as the Pearson correlation
        raw = -raw
    return torch.from_numpy(raw.copy()), s


def first_component(t):
    """Eigen-CAM's projection of any terms [C, h, w]: raw [h, w] float64."""
    return eigencam_from_activations(t)[0]


def eigencam(model, x, layer, class_index=None):
    """Eigen-CAM (Muhammad & Yeasin 2020). class_index is ignored (class-independent)."""
    a, _ = activations(model, x, layer)
    return eigencam_from_activations(a)[0]


GRADIENT_METHODS = {"gradcam": gradcam, "gradcam++": gradcam_pp, "xgradcam": xgradcam,
                    "layercam": layercam, "hirescam": hirescam,
                    "gradcam-elementwise": gradcam_elementwise, "eigengradcam": eigengradcam}
METHODS = ("cam", "gradcam", "gradcam++", "xgradcam", "layercam", "hirescam", "scorecam",
           "ablationcam", "eigencam", "gradcam-elementwise", "eigengradcam", "guided-backprop",
           "guided-gradcam")
# Display: ReLU before upsampling and min-max for every method but CAM.
DISPLAY_RELU = {m: m != "cam" for m in METHODS}


def display(raw, height, width, relu):
    """Display map [H, W] in [0, 1] (for docs/tests): optional ReLU, bilinear upsampling
    (align_corners=False), min-max; a constant map becomes zeros."""
    m = torch.as_tensor(raw).double()
    if relu:
        m = F.relu(m)
    up = F.interpolate(m[None, None], size=(height, width), mode="bilinear",
                       align_corners=False)[0, 0]
    lo, hi = up.min(), up.max()
    return (up - lo) / (hi - lo) if hi > lo else torch.zeros_like(up)
