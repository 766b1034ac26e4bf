"""TaskSet validation and the seeded task families."""
import numpy as np
import pytest

import ntk_bridge as nb
from ntk_bridge.tasks import TaskSet, gaussian_clusters, make, shared_feature, sinusoid


def _arrays(n=3, s=4, q=5, d=2, k=1):
    rng = np.random.default_rng(0)
    return dict(xs=rng.standard_normal((n, s, d)), ys=rng.standard_normal((n, s, k)),
                xq=rng.standard_normal((n, q, d)), yq=rng.standard_normal((n, q, k)))


BAD_FIELDS = [
    ("xs", np.zeros((3, 4)), "TaskSet.xs must have shape"),
    ("yq", np.zeros((3, 5, 1, 1)), "TaskSet.yq must have shape"),
    ("ys", np.zeros((2, 4, 1)), "TaskSet.ys has 2 tasks"),
    ("xq", np.zeros((4, 5, 2)), "TaskSet.xq has 4 tasks"),
    ("ys", np.zeros((3, 3, 1)), "TaskSet.ys has 3 points"),
    ("yq", np.zeros((3, 6, 1)), "TaskSet.yq has 6 points"),
    ("xq", np.zeros((3, 5, 3)), "TaskSet.xq has input dim 3"),
    ("yq", np.zeros((3, 5, 2)), "TaskSet.yq has out_dim 2"),
    ("xs", np.zeros((3, 0, 2)), "TaskSet.xs is empty"),
    ("yq", np.zeros((0, 5, 1)), "TaskSet.yq is empty"),
    ("xq", np.full((3, 5, 2), np.nan), "TaskSet.xq contains NaN"),
    ("ys", np.full((3, 4, 1), np.inf), "TaskSet.ys contains NaN or inf"),
    ("xs", np.zeros((3, 4, 2), dtype=object), "TaskSet.xs must hold real numbers"),
    ("ys", np.full((3, 4, 1), "a"), "TaskSet.ys must hold real numbers"),
    ("yq", np.zeros((3, 5, 1), dtype=complex), "TaskSet.yq must hold real numbers"),
    ("xs", [[[1.0, 2.0]], [[1.0]]], "TaskSet.xs is not an array"),
]


@pytest.mark.parametrize("field,value,match", BAD_FIELDS, ids=[m.removeprefix("TaskSet.") for *_, m in BAD_FIELDS])
def test_taskset_rejects_bad_fields(field, value, match):
    with pytest.raises(ValueError, match=match):
        TaskSet(**(_arrays() | {field: value}))


def test_taskset_is_float64_read_only_and_splits_merge():
    arrays = _arrays()
    t = TaskSet(**(arrays | {"ys": np.ones((3, 4, 1), dtype=np.int32)}))
    assert all(getattr(t, f).dtype == np.float64 and not getattr(t, f).flags.writeable for f in arrays)
    assert (t.n_tasks, t.n_support, t.n_query, t.dim, t.out_dim) == (3, 4, 5, 2, 1)
    x, y = t.merged()
    assert np.array_equal(x, np.concatenate([arrays["xs"], arrays["xq"]], axis=1)) and y.shape == (3, 9, 1)
    assert np.array_equal(t.take(2).xq, arrays["xq"][:2])
    with pytest.raises(ValueError, match="n_tasks"):
        t.take(4)
    with pytest.raises(ValueError, match="test.xs has input dim 3"):
        t.check_compatible(TaskSet(**_arrays(d=3)))
    with pytest.raises(ValueError, match="test.ys has out_dim 2"):
        t.check_compatible(TaskSet(**_arrays(k=2)))


FAMILIES = {
    "shared-feature": (dict(n_support=4, n_query=6, dim=5, out_dim=2), (4, 6, 5, 2)),
    "sinusoid": (dict(n_support=4, n_query=6), (4, 6, 2, 1)),
    "clusters": (dict(n_way=3, k_shot=2, n_query=3, dim=6), (6, 9, 6, 3)),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_families_are_seeded_and_shaped(family):
    kwargs, (s, q, d, k) = FAMILIES[family]
    a = make(family, 7, seed=1, **kwargs)
    assert (a.n_tasks, a.n_support, a.n_query, a.dim, a.out_dim) == (7, s, q, d, k)
    b = make(family, 7, seed=1, **kwargs)
    c = make(family, 7, seed=2, **kwargs)
    for f in ("xs", "ys", "xq", "yq"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    assert not np.allclose(a.xs, c.xs) and not np.allclose(a.xq, c.xq)
    assert family == "clusters" or not np.allclose(a.ys, c.ys)  # clusters: labels fixed, points move


def test_shared_feature_similarity_one_is_one_function_across_seeds():
    # dim = 1: the unit sphere is {-1, +1}, so every task samples the same two inputs.
    def values(seed, similarity, world_seed=0):
        t = shared_feature(20, 3, 3, dim=1, similarity=similarity, world_seed=world_seed, seed=seed)
        x, y = t.merged()
        return {sign: np.unique(np.round(y[x[..., 0] == sign], 12)) for sign in (-1.0, 1.0)}

    same = [values(seed, 1.0) for seed in (0, 1, 2)]
    for v in same:
        assert all(v[sign].size == 1 for sign in v)           # one value per input within a draw
        assert all(np.array_equal(v[sign], same[0][sign]) for sign in v)
    other_world = values(0, 1.0, world_seed=1)
    assert any(not np.array_equal(other_world[sign], same[0][sign]) for sign in other_world)
    assert any(values(0, 0.5)[sign].size > 1 for sign in (-1.0, 1.0))   # tasks differ below 1


def test_sinusoid_is_a_sine_of_the_first_coordinate_with_constant_second():
    t = sinusoid(5, 4, 6, seed=3)
    x, y = t.merged()
    assert np.all(x[..., 1] == 1.0) and np.all(np.abs(x[..., 0]) <= 1.0)
    for i in range(5):  # y = A sin(5 x - p) = a sin(5x) + b cos(5x): an exact linear fit
        basis = np.stack([np.sin(5 * x[i, :, 0]), np.cos(5 * x[i, :, 0])], axis=1)
        coef, *_ = np.linalg.lstsq(basis, y[i, :, 0], rcond=None)
        assert np.allclose(basis @ coef, y[i, :, 0], atol=1e-12)
        assert 0.1 <= np.hypot(*coef) <= 5.0


def test_clusters_have_centred_one_hot_targets_and_a_shared_subspace():
    t = gaussian_clusters(4, n_way=5, k_shot=2, n_query=3, dim=16, rank=3, spread=0.0, seed=0)
    x, y = t.merged()
    assert np.allclose(y.sum(-1), 0.0) and np.allclose(np.sort(y, -1)[..., -1], 0.8)
    assert np.allclose(np.sort(y, -1)[..., :-1], -0.2)
    counts = np.argmax(t.ys, -1)
    assert all(np.array_equal(np.bincount(c, minlength=5), [2] * 5) for c in counts)
    assert np.allclose(np.linalg.norm(x, axis=-1), 1.0)

    def rank(*draws):  # (seed, world_seed) pairs, noise-free points stacked
        pts = [gaussian_clusters(4, dim=16, rank=3, spread=0.0, seed=s, world_seed=w).merged()[0] for s, w in draws]
        return np.linalg.matrix_rank(np.concatenate(pts).reshape(-1, 16), tol=1e-9)

    assert rank((0, 0), (1, 0)) == 3                          # seeds share the world's subspace
    assert rank((0, 0), (0, 1)) == 6                          # worlds do not


@pytest.mark.parametrize("call,match", [
    (lambda: make("omniglot", 3), "family"),
    (lambda: shared_feature(0), "n_tasks"),
    (lambda: shared_feature(2, similarity=1.5), "similarity"),
    (lambda: shared_feature(2, noise=-1.0), "noise"),
    (lambda: sinusoid(2, n_query=0), "n_query"),
    (lambda: gaussian_clusters(2, dim=4, rank=5), "rank"),
    (lambda: gaussian_clusters(2, n_way=True), "n_way"),
    (lambda: gaussian_clusters(2, n_way=1), "n_way must be an integer >= 2"),   # one class: targets e_0 - 1 = 0
    (lambda: nb.tasks.digits(2, n_way=1), "n_way must be an integer >= 2"),
    (lambda: sinusoid(2, world_seed=-1), "world_seed"),
    (lambda: sinusoid(2, amp_range=(5.0, 0.1)), r"amp_range\[1\]"),
    (lambda: sinusoid(2, x_range=(0.0, np.inf)), r"x_range\[1\]"),
    (lambda: sinusoid(2, phase_range=1.0), "phase_range must be a pair"),
    (lambda: nb.predict.gbml_sets(sinusoid(2), "disjiont"), "split must be one of"),
], ids=["family", "n_tasks", "similarity", "noise", "n_query", "rank", "n_way", "one-way-clusters", "one-way-digits",
        "world_seed", "amp_range", "x_range", "phase_range", "split"])
def test_family_arguments_are_validated(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_numpy_integer_sizes_and_float32_parameters_are_accepted():
    a = shared_feature(np.int64(3), np.int32(2), np.int64(4), dim=np.int64(5), similarity=np.float32(0.5),
                       noise=np.float32(0.0), world_seed=np.int64(1), seed=np.int64(2))
    b = shared_feature(3, 2, 4, dim=5, similarity=float(np.float32(0.5)), world_seed=1, seed=2)
    assert (a.n_tasks, a.n_support, a.n_query, a.dim) == (3, 2, 4, 5)
    assert np.array_equal(a.ys, b.ys)
    c = gaussian_clusters(np.int64(2), n_way=np.int64(3), k_shot=np.int64(1), n_query=np.int64(2), dim=8,
                          rank=np.int64(2), spread=np.float32(0.1))
    assert c.ys.shape == (2, 3, 3) and c.yq.shape == (2, 6, 3)
    assert sinusoid(np.int64(2), np.int64(3), np.int64(1)).xs.shape == (2, 3, 2)
    assert make("sinusoid", 4, seed=1).take(np.int64(2)).n_tasks == 2


@pytest.mark.parametrize("call,match", [
    (lambda: shared_feature(3, n_support=2.0), "n_support must be an integer"),
    (lambda: shared_feature(3, similarity=np.nan), "similarity must be a finite number"),
    (lambda: shared_feature(3, seed=-1), "seed must be an integer >= 0"),
    (lambda: gaussian_clusters(2, spread=-0.1), "spread must be a finite number >= 0"),
    (lambda: make("sinusoid", 4).take(True), "n_tasks must be an integer"),
    (lambda: make("sinusoid", 4).take(5), r"n_tasks must be an integer in \[1, 4\], got 5"),
], ids=["float-size", "nan-similarity", "negative-seed", "negative-spread", "bool-take", "take-too-many"])
def test_validation_names_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_make_dispatches_to_the_family():
    a, b = make("sinusoid", 3, seed=4), sinusoid(3, seed=4)
    assert np.array_equal(a.xs, b.xs) and np.array_equal(a.yq, b.yq)
    assert nb.TaskSet is TaskSet


# ------------------------------------------------------------------------ image inputs (theory.md §11)
def test_image_inputs_are_stored_flat_and_read_back_as_images():
    """Images ``(N, m, H, W, C)`` become rows of ``H W C`` values in pixel order (NumPy's reshape), with
    ``image_shape``; ``images`` undoes it exactly; the digits' images are the flat digits' rows."""
    rng = np.random.default_rng(0)
    xs, xq = rng.standard_normal((3, 2, 4, 5, 2)), rng.standard_normal((3, 1, 4, 5, 2))
    t = TaskSet(xs, np.zeros((3, 2, 1)), xq, np.zeros((3, 1, 1)))
    assert t.image_shape == (4, 5, 2) and t.dim == 40
    assert t.xs[1, 0, 7] == xs[1, 0, 0, 3, 1]                    # pixel (0, 3), channel 1: 0*10 + 3*2 + 1
    assert np.array_equal(t.images("xs"), xs) and np.array_equal(t.images("xq"), xq)
    assert t.take(2).image_shape == (4, 5, 2)
    img = nb.tasks.digits(2, as_images=True, seed=3)
    flat = nb.tasks.digits(2, seed=3)
    assert img.image_shape == (8, 8, 1) and flat.image_shape is None and np.array_equal(img.xs, flat.xs)
    from sklearn.datasets import load_digits

    raw = load_digits().images                                   # (1797, 8, 8): the data set's own images
    first = nb.tasks.digits(1, normalize="none", as_images=True).images("xs")[0, 0, :, :, 0]
    assert any(np.array_equal(first, im) for im in raw)


def test_image_inputs_bad_shapes():
    xs = np.zeros((2, 2, 4, 4, 1))
    with pytest.raises(ValueError, match="xq has images of shape"):
        TaskSet(xs, np.zeros((2, 2, 1)), np.zeros((2, 1, 4, 3, 1)), np.zeros((2, 1, 1)))
    with pytest.raises(ValueError, match="image_shape"):
        TaskSet(np.zeros((2, 2, 15)), np.zeros((2, 2, 1)), np.zeros((2, 1, 15)), np.zeros((2, 1, 1)), (4, 4, 1))
    with pytest.raises(ValueError, match="image_shape must be"):
        TaskSet(np.zeros((2, 2, 16)), np.zeros((2, 2, 1)), np.zeros((2, 1, 16)), np.zeros((2, 1, 1)), (16,))
    with pytest.raises(ValueError, match="holds vectors"):
        TaskSet(np.zeros((2, 2, 16)), np.zeros((2, 2, 1)), np.zeros((2, 1, 16)), np.zeros((2, 1, 1))).images()
    a = TaskSet(xs, np.zeros((2, 2, 1)), xs, np.zeros((2, 2, 1)))
    b = TaskSet(np.zeros((2, 2, 2, 8, 1)), np.zeros((2, 2, 1)), np.zeros((2, 2, 2, 8, 1)), np.zeros((2, 2, 1)))
    with pytest.raises(ValueError, match="images of shape"):
        a.check_compatible(b)
    with pytest.raises(ValueError, match="as_images"):
        nb.tasks.digits(2, as_images="yes")
