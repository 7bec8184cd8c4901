"""Worst-case searches: known answers for linear reconstructors, model safety, the paper's search."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pytest_invstab import attacks
from pytest_invstab.errors import InvalidInputError, ReconstructorError
from pytest_invstab.images import shepp_logan
from pytest_invstab.operators import MatrixOperator
from pytest_invstab.operators.fourier import FourierOperator
from pytest_invstab.tensors import batch_norm

N = 32


# -- linear reconstructors with known worst cases -------------------------------------------------
def _blur_kernel(seed: int = 3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, 1, 5, 5, generator=g)


def conv_adjoint(kernel: torch.Tensor):
    """f(y) = K * (A* y): a linear (complex) reconstructor with a non-trivial spectrum."""

    def f(y, op):
        z = op.adjoint(y)
        k = kernel.to(z.real.dtype)
        re = F.conv2d(z.real[:, None], k, padding=2)[:, 0]
        im = F.conv2d(z.imag[:, None], k, padding=2)[:, 0]
        return torch.complex(re, im)

    return f


def gaussian_problem():
    """Dense real Gaussian A (m < n) and B: the hardest spectrum for an ascent (dense top edge)."""
    g = torch.Generator().manual_seed(7)
    A = torch.randn(300, N * N, generator=g) / N
    Bm = torch.randn(N * N, 300, generator=g) / math.sqrt(300)
    op = MatrixOperator(A, (N, N))
    return op, (lambda y, o: (y @ Bm.T).reshape(y.shape[0], N, N))


def _real_flat(t: torch.Tensor) -> torch.Tensor:
    t = torch.view_as_real(t) if t.is_complex() else t
    return t.reshape(t.shape[0], -1).double()


def exact_sigma(f, op, x, domain: str) -> float:
    """sigma_max of the real-linear map p -> f(y + A p) - f(y), from its dense real matrix (SVD)."""
    y = op(x[:1])
    base = y if domain == "measurements" else x[:1]
    n = base[0].numel()
    eye = torch.eye(n, dtype=op.dtype)
    cols = [eye.reshape(n, *base.shape[1:])]
    if base.is_complex():
        cols.append(1j * cols[0])
    outs = []
    with torch.no_grad():
        f0 = f(y, op)
        for e in cols:
            yy = op(x[:1] + e) if domain == "image" else y + e
            outs.append(_real_flat(f(yy, op) - f0))
    M = torch.cat(outs, 0).T  # [outputs, real inputs]
    return float(torch.linalg.svdvals(M)[0])


def power_sigma(f, op, x, domain: str, iters: int = 150) -> float:
    """sigma_max by power iteration with autograd: M p by evaluation (f is linear), M^T w by a vjp."""
    y = op(x[:1]).detach()
    base = y if domain == "measurements" else x[:1]
    f0 = f(y, op).detach()
    g = torch.Generator().manual_seed(0)
    p = torch.randn(base.shape, generator=g, dtype=op.dtype)
    if base.is_complex():
        p = torch.complex(p, torch.randn(base.shape, generator=g, dtype=op.dtype))
    p = p / p.abs().square().sum().sqrt()
    s = 0.0
    for _ in range(iters):
        p.requires_grad_(True)
        mp = f(op(x[:1] + p) if domain == "image" else y + p, op) - f0
        w = mp.detach()
        (mtw,) = torch.autograd.grad(_real_flat(mp).mul(_real_flat(w)).sum(), p)
        s = float(_real_flat(w).norm())
        p = (mtw / _real_flat(mtw).norm()).detach()
    return s


@pytest.fixture(scope="module")
def fourier():
    return FourierOperator(size=N, rate=0.33, seed=0)


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    return torch.stack([shepp_logan(N), 0.2 + 0.8 * torch.rand(N, N, generator=g)])


# -- the known answer ------------------------------------------------------------------------------
@pytest.mark.parametrize("domain", ["image", "measurements"])
@pytest.mark.parametrize("case", ["fourier-conv", "gaussian-matrix"])
def test_budgeted_search_reaches_sigma_max_of_a_linear_reconstructor(case, domain, fourier, images):
    """For f(y) = B y the worst artifact is eps ||x|| sigma_max(BA) (or eps ||y|| sigma_max(B)):
    the default budget must reach 99 % of it for every image and never exceed it."""
    if case == "fourier-conv":
        op, f = fourier, conv_adjoint(_blur_kernel())
    else:
        op, f = gaussian_problem()
    sigma = exact_sigma(f, op, images, domain)
    eps = 0.01
    res = attacks.budgeted_search(f, op, images, eps=eps, domain=domain, seed=1)
    ref = batch_norm(images if domain == "image" else op(images))
    ratio = res.artifact * batch_norm(images) / (eps * ref * sigma)
    # the restarts, then the hidden-instability phase (two deviation ascents of 2 evaluations a step, a refinement)
    s = attacks.DEFAULT_STEPS
    assert res.evaluations == s * attacks.DEFAULT_RESTARTS + 2 * 2 * (s // 2) + s // 4 <= 2 * s * attacks.DEFAULT_RESTARTS
    assert torch.all(ratio >= 0.99), ratio
    assert torch.all(ratio <= 1 + 1e-4), ratio
    assert torch.allclose(res.size, torch.full_like(res.size, eps), rtol=1e-4)
    if domain == "image":
        assert res.perturbation.dtype == images.dtype  # real x -> real r
    else:
        assert res.perturbation.dtype == op(images).dtype  # complex measurements -> complex e


def test_power_iteration_by_autograd_agrees_with_the_svd(fourier, images):
    f = conv_adjoint(_blur_kernel())
    for domain in ("image", "measurements"):
        assert power_sigma(f, fourier, images, domain) == pytest.approx(exact_sigma(f, fourier, images, domain), rel=1e-3)


def test_back_projection_worst_case_is_exactly_eps(fourier, images):
    """A*A is an orthogonal projection (A A* = I): the worst artifact of A* is eps (image domain)
    and eps ||y|| / ||x|| (measurements), reached by the search."""
    f = lambda y, op: op.adjoint(y)
    res = attacks.budgeted_search(f, fourier, images, eps=0.02, steps=10, restarts=1)
    assert torch.allclose(res.artifact, torch.full((2,), 0.02), rtol=1e-3)
    res = attacks.budgeted_search(f, fourier, images, eps=0.02, domain="measurements", steps=2, restarts=1)
    expected = 0.02 * batch_norm(fourier(images)) / batch_norm(images)
    assert torch.allclose(res.artifact, expected, rtol=1e-4)


def test_per_image_radii_and_budget_scaling(fourier, images):
    f = lambda y, op: op.adjoint(y)
    eps = torch.tensor([0.01, 0.03])
    res = attacks.budgeted_search(f, fourier, images, eps=eps, steps=12, restarts=2)
    assert torch.allclose(res.size, eps, rtol=1e-4)
    assert torch.allclose(res.artifact, eps, rtol=1e-3)
    assert res.restart_artifacts.shape == (2, 2)
    quick = attacks.budgeted_search(f, fourier, images, eps=0.01, budget="quick")
    steps, restarts = round(attacks.DEFAULT_STEPS * 0.25), round(attacks.DEFAULT_RESTARTS * 0.5)
    assert quick.evaluations == steps * restarts + 2 * 2 * (steps // 2) + max(2, steps // 4)  # + the hidden phase


def test_search_is_deterministic_for_a_seed(fourier, images):
    f = conv_adjoint(_blur_kernel())
    a = attacks.budgeted_search(f, fourier, images, eps=0.01, steps=6, restarts=2, seed=5)
    b = attacks.budgeted_search(f, fourier, images, eps=0.01, steps=6, restarts=2, seed=5)
    c = attacks.budgeted_search(f, fourier, images, eps=0.01, steps=6, restarts=2, seed=6)
    assert torch.equal(a.perturbation, b.perturbation)
    assert not torch.equal(a.perturbation, c.perturbation)


# -- nonlinear networks -------------------------------------------------------------------------
class TinyNet(torch.nn.Module):
    """A small nonlinear reconstructor with batch norm and dropout (whose modes matter)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = torch.nn.Conv2d(2, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.drop = torch.nn.Dropout(0.5)
        self.conv2 = torch.nn.Conv2d(8, 2, 3, padding=1)

    def forward(self, y, op):
        z = op.adjoint(y)
        h = torch.stack([z.real, z.imag], 1)
        o = h + self.conv2(self.drop(torch.tanh(self.bn(self.conv1(h)) * 3)))
        return torch.complex(o[:, 0], o[:, 1])


def _state(net):
    return [m.training for m in net.modules()], [p.requires_grad for p in net.parameters()]


@pytest.mark.parametrize("method", ["budgeted", "random", "paper"])
def test_model_is_frozen_during_the_search_and_restored(method, fourier, images):
    net = TinyNet().train()
    net.conv2.weight.requires_grad_(False)  # a mixed state must come back as it was
    before = _state(net)
    seen = []
    orig = net.forward

    def spy(y, op):
        seen.append((net.training, any(p.requires_grad for p in net.parameters())))
        return orig(y, op)

    net.forward = spy  # instance attribute: the module is still found through f
    f = net
    if method == "budgeted":
        attacks.budgeted_search(f, fourier, images, eps=0.01, steps=3, restarts=1)
    elif method == "random":
        attacks.random_search(f, fourier, images, eps=0.01, draws=3)
    else:
        attacks.paper_search(f, fourier, images, lam=0.0, step=1.0, tau=1e-4, iters=3, checkpoints=[3])
    assert seen and all(s == (False, False) for s in seen)
    assert _state(net) == before
    assert all(p.grad is None for p in net.parameters())


def test_model_is_restored_when_the_search_raises(fourier, images):
    net = TinyNet().train()
    before = _state(net)
    orig = net.forward
    calls = []

    def nan_after_first(y, op):
        calls.append(1)
        out = orig(y, op)
        return out * float("nan") if len(calls) > 2 else out

    net.forward = nan_after_first
    with pytest.raises(ReconstructorError, match="NaN or Inf"):
        attacks.budgeted_search(net, fourier, images, eps=0.01, steps=4, restarts=1)
    assert _state(net) == before
    assert all(p.grad is None for p in net.parameters())


# -- non-differentiable reconstructors --------------------------------------------------------------
def numpy_inside(y, op):
    z = op.adjoint(y)
    return torch.as_tensor(np.asarray(z.numpy()) * 1.0)


def detached(y, op):
    return op.adjoint(y).detach()


def no_grad_inside(y, op):
    with torch.no_grad():
        return op.adjoint(y)


@pytest.mark.parametrize("f", [numpy_inside, detached, no_grad_inside], ids=["numpy", "detach", "no_grad"])
def test_non_differentiable_reconstructor_gets_one_clear_error(f, fourier, images):
    with pytest.raises(ReconstructorError, match="method='random'"):
        attacks.budgeted_search(f, fourier, images, eps=0.01, steps=2, restarts=1)


def test_random_search_works_without_gradients_and_is_weaker(fourier, images):
    f = conv_adjoint(_blur_kernel())
    rnd = attacks.random_search(lambda y, op: f(torch.as_tensor(y.numpy()), op), fourier, images, eps=0.01, draws=20)
    best = attacks.budgeted_search(f, fourier, images, eps=0.01)
    assert rnd.evaluations == 20
    assert torch.allclose(rnd.size, torch.full((2,), 0.01), rtol=1e-4)
    assert torch.all(rnd.artifact < best.artifact)
    assert torch.all(rnd.artifact > 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eps": 0.0}, "eps must be a finite number > 0"),
        ({"eps": -0.1}, "eps must be a finite number > 0"),
        ({"eps": float("nan")}, "eps must be a finite number > 0"),
        ({"eps": 0.01, "domain": "kspace"}, "domain must be 'image' or 'measurements'"),
        ({"eps": 0.01, "steps": 0}, "steps must be an integer >= 1"),
    ],
)
def test_bad_arguments(kwargs, match, fourier, images):
    with pytest.raises(InvalidInputError, match=match):
        attacks.budgeted_search(lambda y, op: op.adjoint(y), fourier, images, **kwargs)


def test_bad_image_shape_names_the_fix(fourier, images):
    with pytest.raises(InvalidInputError, match=r"x\[None\]"):
        attacks.budgeted_search(lambda y, op: op.adjoint(y), fourier, images[0], eps=0.01)


# -- the paper's search -------------------------------------------------------------------------------
def test_paper_search_checkpoints_grow_in_norm_and_artifact(fourier, images):
    net = TinyNet()
    res = attacks.paper_search(net, fourier, images, lam=0.01, step=0.5, tau=1e-4, iters=30,
                               checkpoints=[10, 20, 30], seed=3)
    assert res.evaluations == 30
    assert res.sizes.shape == (3, 2) and len(res.perturbations) == 3
    assert torch.all(res.sizes[1:] > res.sizes[:-1])
    assert torch.all(res.artifacts[1:] > res.artifacts[:-1])
    assert torch.all(res.objective[-1] > res.objective[0])  # the ascent ascends
    assert res.perturbations[0].dtype == images.dtype
    again = attacks.paper_search(net, fourier, images, lam=0.01, step=0.5, tau=1e-4, iters=30,
                                 checkpoints=[10, 20, 30], seed=3)
    assert all(torch.equal(a, b) for a, b in zip(res.perturbations, again.perturbations))


def test_paper_search_first_update_is_the_momentum_free_gradient_step(fourier, images):
    """r_1 = r_0 + step (grad 1/2||M r_0||^2 - lam r_0) for the linear f = A*: M^T M = A*A."""
    f = lambda y, op: op.adjoint(y)
    tau, step, lam = 1e-3, 0.7, 0.2
    res = attacks.paper_search(f, fourier, images, lam=lam, step=step, tau=tau, iters=1, checkpoints=[1], seed=4)
    g = torch.Generator().manual_seed(4)
    r0 = tau * torch.rand(images.shape, generator=g)
    expected = r0 + step * (fourier.adjoint(fourier(r0)).real - lam * r0)
    assert torch.allclose(res.perturbations[0], expected, atol=1e-6)  # float32; a factor-2 slip is 6e-4


def test_paper_search_stops_at_the_ball_with_size_checkpoints(fourier, images):
    net = TinyNet()
    res = attacks.paper_search(net, fourier, images, lam=0.0, step="auto", tau=1e-5, iters=40,
                               checkpoints=[0.25, 0.5, 1.0], max_size=0.02)
    assert torch.all(res.sizes <= torch.tensor([0.25, 0.5, 1.0])[:, None] * 0.02 * (1 + 1e-5))
    assert torch.all(res.sizes[-1] > 0.5 * 0.02)  # it got near the ball
    assert torch.all(res.sizes[1:] > res.sizes[:-1])


def test_paper_search_bad_checkpoints(fourier, images):
    with pytest.raises(InvalidInputError, match="increasing"):
        attacks.paper_search(detached, fourier, images, lam=0, step=1, tau=1e-3, iters=5, checkpoints=[3, 2])
    with pytest.raises(InvalidInputError, match="iteration numbers"):
        attacks.paper_search(detached, fourier, images, lam=0, step=1, tau=1e-3, iters=5, checkpoints=[6])


# -- Gaussian ball ---------------------------------------------------------------------------------------
def test_gaussian_ball_fraction_and_clopper_pearson(fourier, images):
    f = lambda y, op: op.adjoint(y)
    r = attacks.budgeted_search(f, fourier, images, eps=0.02, steps=4, restarts=1).perturbation
    # artifact of A*A(r + v) with ||v|| = ||r||/4 lies in [0.75, 1.25] * 0.02, so these thresholds are certain
    low = attacks.gaussian_ball(f, fourier, images, r, threshold=0.014, draws=20, seed=1)
    high = attacks.gaussian_ball(f, fourier, images, r, threshold=0.026, draws=20, seed=1)
    assert torch.all(low.fraction == 1) and torch.all(high.fraction == 0)
    assert low.artifacts.shape == (20, 2)
    assert torch.allclose(low.ci_low, torch.full((2,), 0.025 ** (1 / 20), dtype=torch.float64), atol=1e-6)
    assert torch.allclose(high.ci_high, torch.full((2,), 1 - 0.025 ** (1 / 20), dtype=torch.float64), atol=1e-6)
    # a threshold between the draws' artifacts (same seed, same draws): 0 < k < 20 for certain
    threshold = float(low.artifacts[:, 0].median())
    mid = attacks.gaussian_ball(f, fourier, images, r, threshold=threshold, draws=20, seed=1)
    from scipy.stats import binomtest

    for b in range(2):
        k = int((low.artifacts[:, b] > threshold).sum())
        assert float(mid.fraction[b]) == k / 20
        # the exact (Clopper-Pearson) interval of an independent implementation
        ci = binomtest(k, 20).proportion_ci(confidence_level=0.95, method="exact")
        assert float(mid.ci_low[b]) == pytest.approx(ci.low, abs=1e-9)
        assert float(mid.ci_high[b]) == pytest.approx(ci.high, abs=1e-9)
    assert 0 < int(round(float(mid.fraction[0]) * 20)) < 20


@pytest.mark.parametrize("domain", ["image", "measurements"])
def test_gaussian_ball_noise_is_a_quarter_of_the_worst_case(domain, fourier, images):
    """The paper's Fig. 2 ball: every draw's noise has norm exactly ||r|| / 4 (per image).

    Seen through the measurements the network gets: image domain, y = A(x + r + v) with v = A* e
    (A A* = I, so ||A v|| = ||v||); measurement domain, y = A x + e_0 + e.
    """
    seen = []

    def f(y, op):
        seen.append(y.detach().clone())
        return op.adjoint(y)

    r = torch.randn((2, *fourier.image_shape), generator=torch.Generator().manual_seed(5), dtype=torch.complex64) \
        if domain == "image" else torch.randn((2, *fourier.measurement_shape), dtype=torch.complex64,
                                              generator=torch.Generator().manual_seed(5))
    r = r * 0.01
    if domain == "image":
        r = fourier.adjoint(fourier(r))  # in the range of A*: A r keeps its norm
    attacks.gaussian_ball(f, fourier, images, r, threshold=0.1, draws=5, seed=3, domain=domain)
    centre = fourier(images + r) if domain == "image" else fourier(images) + r
    draws = seen[-5:]
    for y in draws:
        ratio = (y - centre).reshape(2, -1).norm(dim=1) / r.reshape(2, -1).norm(dim=1)
        torch.testing.assert_close(ratio, torch.full((2,), 0.25), rtol=1e-4, atol=0)


def test_gaussian_like_matches_the_sampled_energy_fraction(fourier, images):
    """White noise keeps a share rate of its energy under A*A: artifact ~ eps sqrt(rate)."""
    f = lambda y, op: op.adjoint(y)
    r = 0.05 * batch_norm(images)[:, None, None] * torch.randn(images.shape, generator=torch.Generator().manual_seed(2)) / N
    art = attacks.gaussian_like(f, fourier, images, r, seed=3)
    expected = 0.05 * math.sqrt(fourier.rate)
    assert torch.allclose(art, torch.full((2,), expected), rtol=0.1)
