"""ItemKNN and UserKNN against hand-computed similarities and a dense numpy reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from recsys_core.columns import Columns
from recsys_core.data.interactions import Interactions
from recsys_core.models import ItemKNN, KNNConfig, UserKNN, _cooccur
from recsys_core.models import knn as knn_module
from recsys_core.models.knn import pruned_similarity

# Four users x three items. Item columns: i0 = [1,1,0,1], i1 = [1,1,0,0], i2 = [0,1,1,1].
# Counts n = (3, 2, 3); co-occurrence (0,1) = 2, (0,2) = 2, (1,2) = 1.
ROWS = [[1, 1, 0], [1, 1, 1], [0, 0, 1], [1, 0, 1]]


def _interactions(rows: list[list[float]]) -> Interactions:
    m = sp.coo_matrix(np.array(rows, dtype=float))
    frame = pd.DataFrame(
        {Columns.user: [f"u{u:03d}" for u in m.row], Columns.item: [f"i{i:03d}" for i in m.col]}
    )
    frame[Columns.weight] = m.data
    return Interactions.from_frame(frame)


@pytest.fixture
def tiny() -> Interactions:
    return _interactions(ROWS)


def test_item_cosine_similarity_matches_hand_computation(tiny: Interactions) -> None:
    sim = ItemKNN(n_neighbors=10).fit(tiny).similarity_.toarray()
    c01, c02, c12 = 2 / np.sqrt(6), 2 / 3, 1 / np.sqrt(6)
    expected = [[0, c01, c02], [c01, 0, c12], [c02, c12, 0]]
    np.testing.assert_allclose(sim, expected, rtol=1e-6)


def test_item_jaccard_and_shrinkage_match_hand_computation(tiny: Interactions) -> None:
    jac = ItemKNN(similarity="jaccard").fit(tiny).similarity_.toarray()
    np.testing.assert_allclose(jac[0, 1], 2 / (3 + 2 - 2), rtol=1e-6)
    np.testing.assert_allclose(jac[1, 2], 1 / (2 + 3 - 1), rtol=1e-6)
    shrunk = ItemKNN(shrinkage=1.0).fit(tiny).similarity_.toarray()
    np.testing.assert_allclose(shrunk[0, 1], 2 / (np.sqrt(6) + 1), rtol=1e-6)


def test_asymmetric_cosine_alpha_one_divides_by_the_source_count(tiny: Interactions) -> None:
    sim = ItemKNN(similarity="asymmetric_cosine", alpha=1.0).fit(tiny).similarity_.toarray()
    # sim[i, j] = co(i, j) / n_i: the source's count only, so it is no longer symmetric.
    np.testing.assert_allclose([sim[0, 1], sim[1, 0]], [2 / 3, 2 / 2], rtol=1e-6)


def test_one_neighbour_keeps_only_the_most_similar_source_per_target(tiny: Interactions) -> None:
    model = ItemKNN(n_neighbors=1).fit(tiny)
    sim = model.similarity_.toarray()
    # Column j keeps its single best source: i1 for i0, i0 for i1, i0 for i2.
    assert [np.flatnonzero(sim[:, j]).tolist() for j in range(3)] == [[1], [0], [0]]
    # u2 has only seen i2, which is nobody's kept neighbour: every score is 0.
    np.testing.assert_array_equal(model.score(np.array([2])), [[0, 0, 0]])


def test_item_scores_sum_similarities_over_the_history(tiny: Interactions) -> None:
    model = ItemKNN().fit(tiny)
    sim = model.similarity_.toarray()
    # u2 saw i2 only; u0 saw i0 and i1.
    np.testing.assert_allclose(model.score(np.array([2]))[0], sim[2], rtol=1e-6)
    np.testing.assert_allclose(model.score(np.array([0]))[0], sim[0] + sim[1], rtol=1e-6)
    history, parts = model.explain_parts(0, 2)
    assert history.tolist() == [0, 1]  # i0 (2/3) contributes more than i1 (1/sqrt 6)
    np.testing.assert_allclose(parts, [sim[0, 2], sim[1, 2]], rtol=1e-6)


def test_binarize_false_weights_history_by_value() -> None:
    weighted = _interactions([[2, 1, 0], [1, 1, 1], [0, 0, 1], [1, 0, 1]])
    model = ItemKNN(binarize=False).fit(weighted)
    sim = model.similarity_.toarray()
    np.testing.assert_allclose(model.score(np.array([0]))[0], 2 * sim[0] + sim[1], rtol=1e-6)


def _dense_reference(x: np.ndarray, n: int) -> np.ndarray:
    """Cosine between columns, zero diagonal, top-n sources per target column kept."""
    norms = np.sqrt((x * x).sum(axis=0))
    sim = (x.T @ x) / np.outer(norms, norms)
    np.fill_diagonal(sim, 0.0)
    cutoff = -np.sort(-sim, axis=0)[n - 1]
    return np.where(sim >= cutoff, sim, 0.0)


#: pruned_similarity's two ways: numpy blocks (small catalogues) and the compiled loop.
WAYS = {"numpy": 10**9, "compiled": 0}


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize("dense", [True, False])
def test_block_pruning_matches_dense_reference_on_random_data(
    way: str, dense: bool, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    x = (rng.random((60, 40)) < 0.3) * rng.random((60, 40)).round(3)
    monkeypatch.setattr(knn_module, "NUMPY_COLUMNS", WAYS[way])
    # Many blocks, so the 40 targets are split over blocks of 2-3 columns.
    monkeypatch.setattr(knn_module, "PROGRESS_STEPS", 20)
    monkeypatch.setattr(knn_module, "BLOCK_BYTES", 400)
    # either co-occurrence product (sparse x dense or sparse x sparse) gives the same
    monkeypatch.setattr(_cooccur, "DENSE_RATIO", 1e9 if dense else 0.0)
    got = pruned_similarity(sp.csr_matrix(x), KNNConfig(n_neighbors=5, binarize=False))
    np.testing.assert_allclose(got.toarray(), _dense_reference(x, 5), rtol=1e-5, atol=1e-7)
    assert (np.diff(got.tocsc().indptr) <= 5).all()


def _brute_force_lowest_index_ties(
    x: np.ndarray, config: KNNConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Every similarity in dense numpy (float64 denominators, float32 values, as the kernel
    documents), and per target the ``n`` best kept by (value descending, index ascending)."""
    x = (x != 0).astype(np.float32) if config.binarize else x.astype(np.float32)
    co = (x.T.astype(np.float64) @ x.astype(np.float64)).astype(np.float32).astype(np.float64)
    sq = (x.astype(np.float64) ** 2).sum(axis=0)
    if config.similarity == "jaccard":
        denom = sq[:, None] + sq[None, :] - co
    else:
        a = 0.5 if config.similarity == "cosine" else config.alpha
        denom = (sq**a)[:, None] * (sq ** (1.0 - a))[None, :]  # [source, target]
    denom = denom + config.shrinkage
    denom[denom == 0] = 1.0
    sim = (co / denom).astype(np.float32)
    np.fill_diagonal(sim, 0.0)
    kept = np.zeros_like(sim)
    for j in range(sim.shape[1]):  # a loop over the targets of a tiny fixture
        order = np.lexsort((np.arange(sim.shape[0]), -sim[:, j]))[: config.n_neighbors]
        order = order[sim[order, j] > 0]
        kept[order, j] = sim[order, j]
    return kept, sim


@pytest.mark.parametrize("way", sorted(WAYS))
@pytest.mark.parametrize(
    "config",
    [
        KNNConfig(n_neighbors=3),
        KNNConfig(n_neighbors=2, similarity="jaccard"),
        KNNConfig(n_neighbors=4, similarity="asymmetric_cosine", alpha=0.8, shrinkage=2.0),
        KNNConfig(n_neighbors=3, binarize=False),
    ],
    ids=["cosine", "jaccard", "asymmetric-shrunk", "weighted"],
)
def test_ties_at_the_cut_off_keep_the_lowest_source_indices(
    way: str, config: KNNConfig, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Few users and 0/1 (or three-level) values: most targets have sources tied at the n-th
    similarity, and exactly the lowest-index ones stay, bit for bit as a brute force, by
    either way."""
    monkeypatch.setattr(knn_module, "NUMPY_COLUMNS", WAYS[way])
    n, crossing = config.n_neighbors, 0
    for _ in range(5):
        x = (rng.random((6, 30)) < 0.4) * rng.integers(1, 4, (6, 30))
        want, sim = _brute_force_lowest_index_ties(x, config)
        got = pruned_similarity(sp.csr_matrix(x), config).toarray()
        np.testing.assert_array_equal(got, want)
        ranked = -np.sort(-sim, axis=0)  # the fixture exercises the rule: targets whose
        crossing += int(((ranked[n - 1] > 0) & (ranked[n - 1] == ranked[n])).sum())  # n-th ties
    assert crossing >= 10


def test_user_knn_matches_dense_user_cosine(rng: np.random.Generator) -> None:
    # Weighted (not 0/1) so that no two similarities tie at the cut-off.
    x = (rng.random((15, 12)) < 0.4) * (1.0 + rng.random((15, 12)))
    x[np.arange(15), rng.integers(0, 12, 15)] = 1.5  # no empty user ...
    x[rng.integers(0, 15, 12), np.arange(12)] = 2.5  # ... nor item: ids map to positions
    data = _interactions(x.tolist())
    model = UserKNN(n_neighbors=4, binarize=False).fit(data)
    weights = _dense_reference(x.T, 4)  # [u, v]: neighbour u of target user v
    np.testing.assert_allclose(model.score(np.arange(15)), weights.T @ x, rtol=1e-5, atol=1e-6)


def test_item_never_seen_gets_zero_similarity_not_nan() -> None:
    frame = pd.DataFrame({Columns.user: ["a", "a", "b"], Columns.item: ["x", "y", "x"]})
    data = Interactions.from_frame(frame, item_ids=np.array(["x", "y", "z"]))
    sim = ItemKNN().fit(data).similarity_.toarray()
    assert np.isfinite(sim).all()
    assert (sim[2] == 0).all() and (sim[:, 2] == 0).all()


def test_kernel_quickselect_matches_a_sort_with_many_duplicates(rng: np.random.Generator) -> None:
    """The compiled loop's hand-written selection (numba's np.partition cost 14 s of compile)
    against np.sort, on runs of equal values, sorted and reversed input and single entries."""
    from recsys_core.models._knn_kernel import _kth_smallest

    cases = [rng.integers(0, 4, 50), np.arange(30), np.arange(30)[::-1], np.ones(7), [2.0]]
    for values in cases:
        want = np.sort(np.asarray(values, dtype=np.float64))
        for k in range(len(want)):
            work = np.array(values, dtype=np.float64)
            assert _kth_smallest(work, len(work), k) == want[k]


def test_compiled_way_gives_the_same_bits_on_one_core_and_on_threads(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of targets on several threads make the same matrix as one core in order."""
    monkeypatch.setattr(knn_module, "NUMPY_COLUMNS", 0)
    x = sp.csr_matrix((rng.random((80, 50)) < 0.3) * rng.integers(1, 4, (80, 50)))
    config = KNNConfig(n_neighbors=4, binarize=False, similarity="asymmetric_cosine")
    monkeypatch.setattr(knn_module, "_cores", lambda: 1)
    one = pruned_similarity(x, config)
    monkeypatch.setattr(knn_module, "_cores", lambda: 3)
    many = pruned_similarity(x, config)
    assert one.nnz and (one != many).nnz == 0


class _Stop(Exception):
    pass


def test_a_progress_that_raises_ends_the_threaded_fit(
    rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancelled run's progress callback raises: the error reaches the caller at once."""
    monkeypatch.setattr(knn_module, "NUMPY_COLUMNS", 0)
    monkeypatch.setattr(knn_module, "_cores", lambda: 2)
    heard: list[int] = []

    def progress(done: int, total: int, message: str = "") -> None:
        heard.append(done)
        raise _Stop

    x = sp.csr_matrix((rng.random((40, 60)) < 0.3).astype(float))
    with pytest.raises(_Stop):
        pruned_similarity(x, KNNConfig(n_neighbors=3), progress)
    assert len(heard) == 1
