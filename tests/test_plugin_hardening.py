"""The pytest layer after issue 11: the mask seed apart from the attack seed, user errors with
one message and no plugin frames, compare-fail specs checked at configure time (pytester)."""

from __future__ import annotations

import pytest

MASK_PROBE = """
import hashlib

def test_mask(fourier_operator, multicoil_operator, invstab_settings):
    h = hashlib.sha256(fourier_operator.mask.cpu().numpy().tobytes()).hexdigest()[:16]
    print(f"MASK={h} SEED={invstab_settings.seed} MASKSEED={invstab_settings.mask_seed}")
"""


def _line(result, prefix: str) -> str:
    return next(line[line.index(prefix):] for line in result.outlines if prefix in line)


def test_attack_seed_leaves_the_sampling_mask_alone(pytester: pytest.Pytester):
    pytester.makeini("[pytest]\ninvstab_size = 32\n")
    pytester.makepyfile(test_mask=MASK_PROBE)
    masks = {}
    for args in (["--invstab-seed=1"], ["--invstab-seed=2"], ["--invstab-seed=2", "-o", "invstab_mask_seed=5"]):
        result = pytester.runpytest("-s", *args)
        result.assert_outcomes(passed=1)
        masks[tuple(args)] = _line(result, "MASK=").split()[0]
    assert masks[("--invstab-seed=1",)] == masks[("--invstab-seed=2",)]  # same operator for a new attack seed
    assert masks[("--invstab-seed=2", "-o", "invstab_mask_seed=5")] != masks[("--invstab-seed=2",)]


def test_misspelled_compare_fail_metric_is_a_usage_error_listing_the_metrics(invstab_project: pytest.Pytester):
    invstab_project.makepyfile("def test_x():\n    pass\n")
    result = invstab_project.runpytest("--invstab-compare-fail=artifcat:10%")  # no --invstab-compare needed
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pytest-invstab: --invstab-compare-fail: unknown metric 'artifcat'*"
                                 "artifact, amplification*recovery_<detail>, psnr@<rate>*"])
    ok = invstab_project.runpytest("--invstab-compare-fail=artifact:10%,psnr@0.33:0.5,recovery_star:5%")
    assert ok.ret == pytest.ExitCode.OK
