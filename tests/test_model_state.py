"""A check leaves the model as found and runs it frozen, whatever wraps the network.

A network with BatchNorm in train mode and Dropout, held by each kind of wrapper a user writes
(the module itself, a bound method, a closure, a plain callable object, ``functools.partial``, a
function using a global network): during the check every module that runs is in eval mode with
``requires_grad=False`` (so BatchNorm statistics never move and Dropout is off: the attack is
deterministic); afterwards mode, flags and buffers are bit-identical to before and no ``.grad``
exists.
"""

from __future__ import annotations

import functools

import pytest
import torch

from pytest_invstab.checks.worst_case import worst_case as _worst_case
from pytest_invstab.images import shepp_logan
from pytest_invstab.operators.fourier import FourierOperator
from pytest_invstab.reconstructor import describe_model, find_modules, frozen

# Toy reconstructors (zero-filled, random untrained networks) are no better than the direct
# reconstruction, so the sanity gate (tested in tests/test_sanity.py) is off here.
worst_case = functools.partial(_worst_case, sanity=False)

N = 16


class Net(torch.nn.Module):
    """A residual image network with BatchNorm and Dropout: both change behaviour in train mode."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.drop = torch.nn.Dropout(0.5)
        self.conv2 = torch.nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, h):
        return h + self.conv2(self.drop(torch.tanh(self.bn(self.conv1(h)))))


def apply(net, y, op):
    z = op.adjoint(y)
    o = net(torch.stack([z.real, z.imag], 1))
    return torch.complex(o[:, 0], o[:, 1])


class Held:
    """A plain callable object (not a Module) holding the network."""

    def __init__(self, net):
        self.net = net

    def __call__(self, y, op):
        return apply(self.net, y, op)

    def method(self, y, op):
        return apply(self.net, y, op)


GLOBAL_NET = Net()


def uses_global(y, op):
    return apply(GLOBAL_NET, y, op)


def _wrap(kind: str):
    """(reconstructor, net) for one kind of wrapper."""
    if kind == "global":
        return uses_global, GLOBAL_NET
    net = Net()
    if kind == "closure":
        return (lambda y, op: apply(net, y, op)), net
    if kind == "object":
        return Held(net), net
    if kind == "bound method":
        return Held(net).method, net
    if kind == "partial":
        return functools.partial(apply, net), net
    if kind == "partial keyword":
        return functools.partial(lambda y, op, model: apply(model, y, op), model=net), net
    raise AssertionError(kind)


KINDS = ["closure", "object", "bound method", "partial", "partial keyword", "global"]


def _snapshot(net):
    return ([m.training for m in net.modules()], [p.requires_grad for p in net.parameters()],
            {k: v.clone() for k, v in net.state_dict().items()})


@pytest.fixture(scope="module")
def op():
    return FourierOperator(size=N, rate=0.5, seed=0)


@pytest.fixture(scope="module")
def x():
    return shepp_logan(N)[None]


@pytest.mark.parametrize("kind", KINDS)
def test_a_check_freezes_the_network_behind_any_wrapper_and_restores_it(kind, op, x):
    f, net = _wrap(kind)
    net.train()
    net.conv2.bias.requires_grad_(False)  # a mixed state must come back as it was
    modes, flags, state = _snapshot(net)
    seen = []
    hook = net.bn.register_forward_pre_hook(
        lambda m, a: seen.append((m.training, net.drop.training, any(p.requires_grad for p in net.parameters()))))
    try:
        r1 = worst_case(f, op, x, eps=0.01, steps=3, restarts=1, baseline=None, seed=0)
        r2 = worst_case(f, op, x, eps=0.01, steps=3, restarts=1, baseline=None, seed=0)
    finally:
        hook.remove()
    assert seen and all(s == (False, False, False) for s in seen), "the network ran unfrozen during the check"
    after_modes, after_flags, after_state = _snapshot(net)
    assert after_modes == modes and after_flags == flags
    assert after_state.keys() == state.keys()
    for k in state:  # running_mean, running_var, num_batches_tracked and every weight bit-identical
        assert torch.equal(after_state[k], state[k]), k
    assert all(p.grad is None for p in net.parameters())
    # Dropout off and statistics fixed: the attack is deterministic
    assert r1.metrics["artifact"] == r2.metrics["artifact"]


def test_frozen_restores_the_state_when_the_body_raises(op, x):
    f, net = _wrap("object")
    net.train()
    modes, flags, _ = _snapshot(net)
    with pytest.raises(RuntimeError, match="boom"), frozen(f):
        f(op(x), op)
        assert not net.training
        raise RuntimeError("boom")
    assert _snapshot(net)[:2] == (modes, flags)


def test_frozen_leaves_modules_that_do_not_run_alone(op, x):
    other = Net().train()
    with frozen(uses_global):
        uses_global(op(x), op)
        assert other.training and all(p.requires_grad for p in other.parameters())


def test_find_modules_sees_through_partial_and_plain_objects():
    net = Net()
    assert find_modules(functools.partial(apply, net)) == [net]
    assert find_modules(functools.partial(apply, model=net)) == [net]
    assert find_modules(Held(net)) == [net]
    params = sum(p.numel() for p in net.parameters())
    assert describe_model(Held(net)) == f"Held ({params} parameters)"
