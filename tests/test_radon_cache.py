"""The Radon matrices' disk cache, ``at_rate`` cutting rows of the full grid's matrices, batched products."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import scipy.sparse
import torch

from pytest_invstab import cachedir
from pytest_invstab.operators import RadonOperator
from pytest_invstab.operators import matrix_cache
from pytest_invstab.operators import radon_matrices as RM

ROOT = Path(__file__).resolve().parent.parent


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (a.shape == b.shape and torch.equal(a.crow_indices(), b.crow_indices())
            and torch.equal(a.col_indices(), b.col_indices()) and torch.equal(a.values(), b.values()))


def test_cache_folder_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv(cachedir.ENV, str(tmp_path / "x"))
    assert cachedir.cache_dir() == tmp_path / "x"
    for off in ("0", "off", ""):
        monkeypatch.setenv(cachedir.ENV, off)
        assert cachedir.cache_dir() is None
    monkeypatch.delenv(cachedir.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    previous = cachedir.session_dir()
    try:
        cachedir.set_session_dir(None)
        assert cachedir.cache_dir() == tmp_path / "xdg" / "pytest-invstab"
        cachedir.set_session_dir(tmp_path / "session")
        assert cachedir.cache_dir() == tmp_path / "session"
    finally:
        cachedir.set_session_dir(previous)


def test_at_rate_cuts_the_full_grid_rows_bit_for_bit(monkeypatch):
    """Against scipy's own row slicing and transpose of a directly built full-grid matrix."""
    monkeypatch.setenv(cachedir.ENV, "off")
    op = RadonOperator(32, 10)
    sub = op.at_rate(0.4)
    before = RM.BUILDS["count"]
    again = op.at_rate(0.6)  # the full grid's matrices are cached: nothing is built
    assert RM.BUILDS["count"] == before
    full = RM._build_scipy(32, RadonOperator(32, op.n_full).angles.numpy(), op.n_detectors)
    for o in (sub, again):
        index = torch.round(o.angles * o.n_full / torch.pi).long()
        rows = (index[:, None] * o.n_detectors + torch.arange(o.n_detectors)).reshape(-1).numpy()
        ref = full[rows].astype("float32")
        ref.sort_indices()
        a, a_t = o.matrices
        assert torch.equal(a.to_dense(), torch.from_numpy(ref.toarray()))
        assert torch.equal(a_t.to_dense(), torch.from_numpy(ref.T.toarray()))
    RM.clear_cache()
    direct = RadonOperator(32, sub.angles)  # a direct build of the same angles gives the same matrices
    assert _same(direct.matrices[0], sub.matrices[0]) and _same(direct.matrices[1], sub.matrices[1])


def test_at_rate_builds_nothing_when_its_angles_come_in_quarter_turn_pairs(monkeypatch):
    """At 24 px the full grid has 38 angles; at rates 0.2 and 1.0 the nested subsets come in
    quarter-turn pairs, so the operator keeps their first half: cut from the rows at_rate made."""
    monkeypatch.setenv(cachedir.ENV, "off")
    RM.clear_cache()
    op = RadonOperator(24, 10)
    op.at_rate(0.5)  # builds the full grid once
    before = RM.BUILDS["count"]
    for rate in (0.2, 1.0):
        sub = op.at_rate(rate)
        assert sub._half and RM.BUILDS["count"] == before, rate
        x = torch.rand(2, 24, 24)
        a = sub.matrices[0]  # the whole subset's rows, as at_rate cut them
        torch.testing.assert_close(sub.forward(x).reshape(2, -1), (a @ x.reshape(2, -1).T).T, rtol=0, atol=1e-5)
    RM.clear_cache()


def test_disk_cache_round_trip_and_damaged_file(monkeypatch, tmp_path):
    monkeypatch.setenv(cachedir.ENV, str(tmp_path))
    monkeypatch.setattr(RM, "DISK_MIN_NNZ", 0)
    RM.clear_cache()
    built = RadonOperator(24, 7)
    files = list(tmp_path.glob("radon-n24-*.bin"))
    assert len(files) == 1 and not list(tmp_path.glob("*.tmp"))
    RM.clear_cache()
    count = RM.BUILDS["count"]
    loaded = RadonOperator(24, 7)
    assert RM.BUILDS["count"] == count  # read, not built
    assert _same(built.matrices[0], loaded.matrices[0]) and _same(built.matrices[1], loaded.matrices[1])
    x = torch.rand(2, 24, 24)
    assert torch.equal(built(x), loaded(x))
    files[0].write_bytes(files[0].read_bytes()[:100])  # truncated: ignored and rebuilt
    RM.clear_cache()
    rebuilt = RadonOperator(24, 7)
    assert RM.BUILDS["count"] == count + 1 and torch.equal(rebuilt(x), built(x))
    RM.clear_cache()



@pytest.mark.parametrize("damage", ["index out of range", "other geometry", "indptr"])
def test_a_complete_file_with_wrong_arrays_is_rebuilt_not_used(monkeypatch, tmp_path, damage):
    """A file that reads back fine but holds another matrix (a damaged disk, a file copied
    under the wrong name) must not reach the product: a bad index would crash torch."""
    monkeypatch.setenv(cachedir.ENV, str(tmp_path))
    monkeypatch.setattr(RM, "DISK_MIN_NNZ", 0)
    RM.clear_cache()
    x = torch.rand(2, 24, 24)
    reference = RadonOperator(24, 7)(x)
    (path,) = tmp_path.glob("radon-n24-*.bin")
    arrs = {k: v.copy() for k, v in matrix_cache.load(path.name).items()}
    if damage == "index out of range":
        arrs["m_indices"][5] = 24 * 24 + 3
    elif damage == "other geometry":
        other = {k: v.copy() for k, v in RM._load_or_build("radon", 20, RadonOperator(20, 7).angles.numpy(),
                                                             RadonOperator(20, 7).n_detectors, torch.float32).items()}
        arrs = other
    else:
        arrs["t_indptr"][3] = arrs["t_indptr"][2] - 1
    assert matrix_cache.save(path.name, arrs)
    RM.clear_cache()
    count = RM.BUILDS["count"]
    assert torch.equal(RadonOperator(24, 7)(x), reference)
    assert RM.BUILDS["count"] == count + 1  # rebuilt (and the file replaced by a good one)
    RM.clear_cache()
    count = RM.BUILDS["count"]
    assert torch.equal(RadonOperator(24, 7)(x), reference) and RM.BUILDS["count"] == count
    RM.clear_cache()

def test_disk_cache_reports_unwritable_folder(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(cachedir.ENV, str(blocker / "sub"))
    assert matrix_cache.save("x.bin", {"a": torch.zeros(3).numpy()}) is False
    assert matrix_cache.load("x.bin") is None


def test_concurrent_processes_write_one_complete_file(tmp_path):
    """Two processes building the same matrices at once: both succeed, one complete file remains."""
    code = ("import torch; from pytest_invstab.operators import radon_matrices as RM; RM.DISK_MIN_NNZ = 0; "
            "from pytest_invstab.operators import RadonOperator; op = RadonOperator(48, 20); "
            "print(float(op(torch.ones(1, 48, 48)).sum()))")
    env = {**os.environ, cachedir.ENV: str(tmp_path), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate()[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs) and outs[0] == outs[1]
    assert len(list(tmp_path.glob("*.bin"))) == 1 and not list(tmp_path.glob("*.tmp"))
    third = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True, check=True)
    assert third.stdout.strip() == outs[0]


def test_batched_product_matches_one_image_at_a_time():
    op = RadonOperator(32, 12)
    x = torch.rand(5, 32, 32, dtype=torch.float64)
    op64 = op.to(dtype=torch.float64)
    one = torch.cat([op64(x[i:i + 1]) for i in range(5)])
    a = scipy.sparse.csr_matrix(op64.matrices[0].to_dense().numpy())
    ref = torch.from_numpy((a @ x.reshape(5, -1).numpy().T).T).reshape(one.shape)
    assert torch.allclose(op64(x), ref, rtol=1e-12, atol=1e-12) and torch.allclose(one, ref, rtol=1e-12, atol=1e-12)
