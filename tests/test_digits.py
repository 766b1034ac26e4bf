"""tasks.digits: few-shot episodes from scikit-learn's bundled 8x8 digits."""
import numpy as np
import pytest
from sklearn.datasets import load_digits

import ntk_bridge as nb
from ntk_bridge.experiments.common import TaskConfig
from ntk_bridge.tasks import FAMILIES, TaskSet, digits, make

_RAW = load_digits()


def _lookup(normalize="sphere"):
    """Row bytes -> (image index, digit), from an independent normalization of the raw data."""
    x = _RAW.data.astype(np.float64)
    if normalize == "sphere":
        x = x - x.mean(0)
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    elif normalize == "sphere-uncentered":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
    return {row.tobytes(): (i, int(c)) for i, (row, c) in enumerate(zip(x, _RAW.target))}


def _identify(t: TaskSet, normalize="sphere"):
    """``((index, digit) of support, (index, digit) of query)``, each array ``(tasks, points)``."""
    table = _lookup(normalize)
    out = []
    for x in (t.xs, t.xq):
        pairs = np.array([[table[r.tobytes()] for r in task] for task in x])
        out.append((pairs[..., 0], pairs[..., 1]))
    return out


def _images(t: TaskSet) -> np.ndarray:
    return np.concatenate([t.xs, t.xq], axis=1).reshape(-1, t.dim)


def test_shapes_unit_norm_and_centred_one_hot_targets():
    t = digits(6, n_way=3, k_shot=2, n_query=4, classes="all", seed=1)
    assert (t.n_tasks, t.n_support, t.n_query, t.dim, t.out_dim) == (6, 6, 12, 64, 3)
    assert t.xs.dtype == np.float64 and t.yq.dtype == np.float64
    x, y = t.merged()
    assert np.allclose(np.linalg.norm(x, axis=-1), 1.0, atol=1e-12)
    assert np.allclose(y.sum(-1), 0.0, atol=1e-12)
    assert np.allclose(np.sort(y, -1)[..., -1], 2 / 3) and np.allclose(np.sort(y, -1)[..., :-1], -1 / 3)
    # each output position is one class within a task, with k_shot support and n_query query images
    (_, cs), (_, cq) = _identify(t)
    for i in range(t.n_tasks):
        for split, cls, m in ((t.ys, cs, 2), (t.yq, cq, 4)):
            pos = np.argmax(split[i], -1)
            assert np.array_equal(np.bincount(pos, minlength=3), [m] * 3)
            assert all(np.unique(cls[i][pos == j]).size == 1 for j in range(3))
        pos_s, pos_q = np.argmax(t.ys[i], -1), np.argmax(t.yq[i], -1)
        assert all(cs[i][pos_s == j][0] == cq[i][pos_q == j][0] for j in range(3))   # same class both splits
        assert np.unique(cs[i]).size == 3


def test_no_image_repeats_within_or_across_tasks_unless_allowed():
    t = digits(20, n_way=5, k_shot=2, n_query=5, classes="all", seed=0)
    rows = _images(t)
    assert np.unique(rows, axis=0).shape[0] == rows.shape[0] == 20 * 5 * 7
    r = digits(20, n_way=5, k_shot=2, n_query=5, classes="all", allow_repeats=True, seed=0)
    (ids, _), (idq, _) = _identify(r)
    per_task = np.concatenate([ids, idq], axis=1)
    assert all(np.unique(task).size == task.size for task in per_task)       # never within a task
    assert np.unique(per_task).size < per_task.size                           # across tasks: yes, here


def test_default_train_and_test_pools_are_disjoint_halves():
    train, test = digits(8, seed=0), digits(8, classes="test", seed=0)
    (_, ctr), _ = _identify(train)
    (_, cte), _ = _identify(test)
    assert set(np.unique(ctr)) == {0, 1, 2, 3, 4} and set(np.unique(cte)) == {5, 6, 7, 8, 9}
    t = digits(4, n_way=2, classes=(7, 3, 9), seed=2)
    assert set(np.unique(_identify(t)[0][1])) <= {3, 7, 9}


def test_seeds_are_reproducible_and_different_seeds_differ():
    a, b, c = (digits(5, n_way=3, seed=s) for s in (4, 4, 5))
    for f in ("xs", "ys", "xq", "yq"):
        assert np.array_equal(getattr(a, f), getattr(b, f))
    assert not np.array_equal(a.xs, c.xs) and not np.array_equal(a.xq, c.xq)
    assert np.array_equal(make("digits", 5, n_way=3, seed=4).xq, a.xq) and FAMILIES["digits"] is digits


def test_permuted_labels_reassign_outputs_fixed_labels_keep_them():
    def class_of_output(t):   # (tasks, n_way): the digit at each output position
        (_, cs), _ = _identify(t)
        pos = np.argmax(t.ys, -1)
        return np.array([[cs[i][pos[i] == j][0] for j in range(t.out_dim)] for i in range(t.n_tasks)])

    fixed = class_of_output(digits(10, n_way=4, classes=(2, 5, 6, 8), labels="fixed", seed=0))
    assert np.all(fixed == [2, 5, 6, 8])
    permuted = class_of_output(digits(10, n_way=4, classes=(2, 5, 6, 8), labels="permuted", seed=0))
    assert all(sorted(row) == [2, 5, 6, 8] for row in permuted)
    assert len({tuple(row) for row in permuted}) > 1                          # the assignment varies


def test_normalizations():
    raw = digits(2, n_way=2, normalize="none", seed=0)
    assert np.all(raw.xs == np.round(raw.xs)) and raw.xs.min() >= 0 and raw.xs.max() <= 16
    unc = digits(2, n_way=2, normalize="sphere-uncentered", seed=0)
    assert np.allclose(np.linalg.norm(unc.xs, axis=-1), 1.0) and unc.xs.min() >= 0
    _identify(unc, "sphere-uncentered")                                       # rows are the raw images, scaled
    std = digits(30, n_way=5, k_shot=5, n_query=1, classes="all", normalize="standardize", seed=0)
    assert abs(_images(std).mean()) < 0.2 and 0.7 < _images(std).std() < 1.3
    # centring: mean-image subtraction takes the across-class cosine from ~0.67 to ~0
    t = digits(40, n_way=2, k_shot=1, n_query=1, classes="all", seed=0)
    u = digits(40, n_way=2, k_shot=1, n_query=1, classes="all", normalize="sphere-uncentered", seed=0)
    assert abs(np.mean(np.sum(t.xs[:, 0] * t.xs[:, 1], -1))) < 0.2 < 0.5 < np.mean(np.sum(u.xs[:, 0] * u.xs[:, 1], -1))


def test_exclude_removes_the_images_of_another_set():
    a = digits(10, n_way=5, k_shot=3, n_query=5, classes="train", labels="fixed", seed=0)
    b = digits(10, n_way=5, k_shot=3, n_query=5, classes="train", labels="fixed", exclude=a, seed=1)
    both = np.concatenate([_images(a), _images(b)])
    assert np.unique(both, axis=0).shape[0] == both.shape[0]
    with pytest.raises(ValueError, match="exclude holds points that are not digits images"):
        digits(2, exclude=digits(2, normalize="none"))


@pytest.mark.parametrize("kwargs,match", [
    (dict(n_tasks=0), "n_tasks must be an integer >= 1"),
    (dict(n_tasks=2, n_way=6), r"n_way must be <= the 5 classes"),
    (dict(n_tasks=2, n_way=3, labels="fixed"), "n_way must equal the number of classes"),
    (dict(n_tasks=2, classes="val"), "classes must be one of"),
    (dict(n_tasks=2, n_way=2, classes=(1, 1, 2)), "classes must be distinct"),
    (dict(n_tasks=2, n_way=2, classes=(3, 10)), "classes must be"),
    (dict(n_tasks=2, labels="sorted"), "labels must be one of"),
    (dict(n_tasks=2, normalize="l2"), "normalize must be one of"),
    (dict(n_tasks=2, allow_repeats=1), "allow_repeats must be True or False"),
    (dict(n_tasks=2, k_shot=100, n_query=100), r"k_shot \+ n_query = 200 .* available images per class \{0: 178"),
    (dict(n_tasks=45, k_shot=1, n_query=3), r"n_tasks = 45 is too many .* at most 44 tasks"),
    (dict(n_tasks=2, seed=-1), "seed must be an integer >= 0"),
    (dict(n_tasks=2, exclude="train"), "exclude must be a TaskSet"),
], ids=["n_tasks", "n_way", "fixed", "pool-name", "distinct", "digit-range", "labels", "normalize", "repeats",
        "per-class", "too-many-tasks", "seed", "exclude"])
def test_arguments_are_validated_naming_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        digits(**kwargs)


def test_capacity_bound_is_tight_and_repeats_lift_it():
    assert digits(44, k_shot=1, n_query=3).n_tasks == 44                     # the "at most 44" of the message
    assert digits(45, k_shot=1, n_query=3, allow_repeats=True).n_tasks == 45


def test_task_config_draws_train_and_test_from_disjoint_classes():
    cfg = TaskConfig(family="digits", n_train=4, n_test=3, n_support=1, n_query=2, options=(("n_way", 2),))
    train, test = cfg.draw(0)
    assert (train.n_tasks, test.n_tasks, train.n_support, train.n_query, train.out_dim) == (4, 3, 2, 4, 2)
    ctr = np.unique(np.concatenate([c for _, c in _identify(train)], axis=1))
    cte = np.unique(np.concatenate([c for _, c in _identify(test)], axis=1))
    assert set(ctr) <= {0, 1, 2, 3, 4} and set(cte) <= {5, 6, 7, 8, 9}
    again, _ = cfg.draw(0)
    assert np.array_equal(again.xs, train.xs) and not np.array_equal(cfg.draw(1)[0].xs, train.xs)
    # one pool for both (fixed labels): images stay disjoint
    same = TaskConfig(family="digits", n_train=20, n_test=20, n_support=2, n_query=2,
                      options=(("n_way", 3), ("labels", "fixed"), ("train_classes", (1, 2, 3)),
                               ("test_classes", (1, 2, 3))))
    tr, te = same.draw(0)
    both = np.concatenate([_images(tr), _images(te)])
    assert np.unique(both, axis=0).shape[0] == both.shape[0]
    with pytest.raises(ValueError, match="train_classes and test_classes"):
        TaskConfig(family="digits", options=(("classes", "all"),)).draw(0)


def test_anil_closed_form_runs_on_digits():
    train = digits(6, n_way=2, k_shot=1, n_query=2, classes=(0, 1, 2, 3, 4, 5), seed=0)
    test = digits(3, n_way=2, k_shot=1, n_query=2, classes=(6, 7, 8, 9), seed=1)
    pred = nb.predict.gbml(nb.MLPSpec(depth=2, out_dim=2), train, test, algo="anil",
                           adapt=nb.Adaptation(0.02, 5), split="same")
    assert pred.shape == test.yq.shape and np.all(np.isfinite(pred))
