"""Section "Setup": the network, the task families and configuration of every experiment, versions, machines."""
from __future__ import annotations

import json

from ... import experiments
from ...spec import MLPSpec
from ..context import Context
from ..render import Code, Math, Num, Para, Section, Table


def _flat(config: dict, prefix: str = "") -> list[tuple[str, str]]:
    items = []
    for k, v in config.items():
        if isinstance(v, dict):
            items += _flat(v, f"{prefix}{k}.")
        else:
            items.append((prefix + k, json.dumps(v, separators=(",", ":"))))
    return items


def _int(v):
    return "" if v is None else v if isinstance(v, str) else Num(v)


def build(ctx: Context) -> Section:
    spec = MLPSpec()
    blocks = [Para(["Fully connected ReLU networks in NTK parameterization: ", Math("L"),
                    " hidden layers ", Code("Dense(n, W_std=w_std, b_std=b_std) -> ReLU"), ", then a linear head ",
                    Code("Dense(k, W_std=head_std, b_std=b_std)"), ", with the ", Code("MLPSpec"), " defaults ",
                    Code("w_std"), " = ", Num(spec.w_std), ", ", Code("b_std"), " = ", Num(spec.b_std), ", ",
                    Code("head_std"), " = ", Num(spec.head_std),
                    " (no experiment overrides them). Infinite width uses the NTK ", Math(r"\Theta"),
                    ", its head part ", Math(r"\Sigma"), " (the NNGP kernel) and ",
                    Math(r"\Theta_{\mathrm{body}} = \Theta - \Sigma"),
                    "; finite widths train centered networks. The loss is half the sum of squared errors."])]
    present = [(name, s) for name in experiments.names() if (s := ctx.summary(name)) is not None]
    if not present:
        blocks.append(Para(["No experiment has a summary record under ", Code(str(ctx.root)), "."], style="missing"))
        return Section("setup", "Setup", blocks)
    blocks.append(_tasks_table(present))
    rows = []
    for name, s in present:
        cfg = ", ".join(f"{k}={v}" for k, v in _flat(s["config"]) if not k.startswith("tasks."))
        rows.append([Code(name), Code(s["config_hash"]), Num(len(s["result"].get("points", []))), Code(cfg)])
    blocks.append(Table("setup-configs", ["Configuration of the summary record each section reads (",
                                          Code(str(ctx.root)), "; task settings in the table above)."],
                        ["experiment", "summary", "points", "configuration"], rows, align="llrp{10.5cm}"))
    blocks += _provenance(ctx, present)
    return Section("setup", "Setup", blocks)


def _tasks_table(present) -> Table:
    rows = []
    for name, s in present:
        cfg = s["config"]
        tasks = [cfg["tasks"]] if "tasks" in cfg else []
        if not tasks and "families" in cfg:
            tasks = [{"family": f, "n_train": cfg.get("n_train"), "n_test": cfg.get("n_test")}
                     for f in cfg["families"]]
        if name == "conditioning":  # one task per support size, at each task similarity of the grid
            sizes = cfg["support_sizes"]
            tasks = [{"family": "shared-feature", "n_train": len(sizes), "n_support": f"{min(sizes)}-{max(sizes)}",
                      "n_query": cfg["n_query"], "options": [("dim", cfg["dim"]),
                                                             ("similarities", len(cfg["similarities"]))]}]
        if name == "kernel-share":  # kernels over inputs only: no tasks
            tasks = [{"family": cfg.get("family") or "sphere (inputs)", "options": [("points", cfg["n_points"])]}]
        for t in tasks:
            opts = "; ".join(f"{k}={v}" for k, v in (t.get("options") or [])) or "-"
            rows.append([Code(name), t["family"], _int(t.get("n_train")), _int(t.get("n_test")),
                         _int(t.get("n_support")), _int(t.get("n_query")), opts])
    return Table("setup-tasks", ["Task families per experiment (training tasks and unseen test tasks; "
                                 "support/query points per task, per class for clusters; "
                                 "blank: set per family by the experiment)."],
                 ["experiment", "family", "train tasks", "test tasks", "support", "query", "options"], rows,
                 align="llrrrrl")


def _points(ctx: Context, name: str) -> list[dict]:
    try:
        return ctx.points(name)
    except FileNotFoundError:
        return []


def _provenance(ctx: Context, present) -> list:
    """Versions and machines over every record read, and compute time per experiment."""
    records = [s for _, s in present]
    for name, _ in present:
        records += _points(ctx, name)
    versions, devices = {}, {}
    for r in records:
        for pkg, v in (r.get("versions") or {}).items():
            versions.setdefault(pkg, set()).add(str(v))
        d = r.get("device") or {}
        key = tuple(str(d[k]) if d.get(k) is not None else "-"
                    for k in ("jax_backend", "device_kind", "host_cpu", "cpu_count"))
        devices[key] = devices.get(key, 0) + 1
    blocks = [Table("setup-versions", ["Package versions recorded in the ", Num(len(records)),
                                       " records read (several values: records from different installs)."],
                    ["package", "version(s)"], [[Code(p), ", ".join(sorted(v))] for p, v in sorted(versions.items())],
                    align="ll"),
              Table("setup-devices", ["Machines recorded (JAX backend and device, host CPU) and how many "
                                      "records each computed."],
                    ["backend", "device", "host CPU", "CPUs", "records"],
                    [[*k, Num(n)] for k, n in sorted(devices.items())], align="llp{7cm}rr")]
    rows = []
    for name, s in present:
        pts = _points(ctx, name)
        created = sorted(r["created"] for r in pts + [s])
        t = s.get("timings", {})
        rows.append([Code(name), Num(len(pts)), Num(t.get("points_compute_s")), Num(t.get("total_s")),
                     created[0], created[-1]])
    blocks.append(Table("setup-timings", ["Compute time per experiment: the sum over its point records of the "
                                          "time each took, and the wall time of the (last, possibly resumed) "
                                          "sweep that wrote the summary."],
                        ["experiment", "points", "points compute (s)", "sweep wall (s)", "first record",
                         "summary"], rows, align="lrrrll"))
    return blocks
