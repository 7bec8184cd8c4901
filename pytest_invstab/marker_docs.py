"""The marker descriptions shown by ``pytest --markers`` (plain text, no pytest, no torch).

Kept static: building them from the checks' signatures would import torch in every pytest run;
tests/test_plugin_settings.py checks that the defaults written here match the signatures.
"""

from __future__ import annotations

_FIXTURE_DOC = "reconstructor='reconstructor', operator='operator', images='reference_images'"
_SANITY_DOC = "sanity=True, sanity_min_gain_db=1.0"
_SANITY_TEXT = (" First a sanity gate: no verdict (an error naming likely wiring mistakes) when the network's clean "
                "PSNR is below the direct (zero-filled / FBP) reconstruction's plus sanity_min_gain_db (dB); "
                "sanity=False skips it.")
MARKER_DOCS: dict[str, str] = {
    "stability": (
        "stability(eps=0.01, max_artifact=0.1, domain='image', method='budgeted', steps=None, restarts=None, "
        "budget=None, seed=None, baseline='default', attack_baseline=False, gaussian_draws=None, "
        "max_ratio_to_baseline=None, region=None, budget_norm=None, "
        f"{_SANITY_DOC}, {_FIXTURE_DOC}): search a worst-case "
        "perturbation r with ||r|| <= eps*||x|| (eps: relative size or an increasing tuple, a robustness curve; "
        "dimensionless; domain 'image' or 'measurements'; method 'budgeted', 'paper' or 'random') and fail "
        "when the relative artifact ||f(A(x+r)) - f(Ax)||/||x|| exceeds max_artifact. budget/seed None: "
        "--invstab-budget/--invstab-seed. Antun et al. 2020, instability 1 (tiny perturbations)." + _SANITY_TEXT
    ),
    "detail_recovery": (
        "detail_recovery(details='symbols', min_recovery=0.5, intensity=None, baseline='default', "
        f"baseline_margin=None, budget=None, seed=None, {_SANITY_DOC}, {_FIXTURE_DOC}): insert a visible detail ('symbols', "
        "'text', 'all' or a tensor [h, w]) of amplitude intensity (image units; None: half the dynamic range) "
        "and fail when the network's recovery score (<= 1, 1 = perfect) is below min_recovery, or below the "
        "CS baseline's minus baseline_margin. Antun et al. 2020, instability 2 (small structural changes)."
        + _SANITY_TEXT
    ),
    "more_samples": (
        "more_samples(rates=None, trained_rate=None, tolerance_db=1.0, require_gain_db=None, "
        "baseline='default', budget=None, seed=None, operators=None, masks=None, allow_unnested=False, "
        f"{_SANITY_DOC}, {_FIXTURE_DOC}): reconstruct at strictly increasing "
        "sampling rates (fractions in (0, 1], nested masks; None: around the operator's rate; or the given "
        "operators / masks per rate, which must be nested unless allow_unnested=True) and fail when "
        "PSNR falls by more than tolerance_db (dB) as the rate grows, or gains less than require_gain_db (dB) "
        "above trained_rate. Antun et al. 2020, instability 3 (more samples)." + _SANITY_TEXT
    ),
    "detail_erasure": (
        "detail_erasure(details='symbols', min_recovery=0.5, intensity=None, eps_max=0.1, bisections=6, "
        f"min_eps=0.01, steps=None, baseline='default', budget=None, seed=None, {_SANITY_DOC}, {_FIXTURE_DOC}): "
        "insert a detail "
        "and bisect the smallest perturbation size ||r||/||x+d|| (<= eps_max) whose worst case makes its recovery "
        "fall below min_recovery, for the network and the baseline; fail when the network's is below min_eps. "
        "Antun et al. 2020, instabilities 1 and 2 together (Fig. 3)." + _SANITY_TEXT
    ),
}
