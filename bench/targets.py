"""The issues' targets, checked against the original measured in the same run."""

from bench.report import _get

# (scenario, path, which way is better, what) for each ratio target of issue 7
TARGETS = [
    ("capacity", ("capacity_msgs_per_s",), "higher", "fan-out capacity"),
    (
        "fanout",
        ("server_cpu_us_per_msg",),
        "lower",
        "server CPU µs/message (fanout, same load for both)",
    ),
    (
        "capacity",
        ("at_capacity", "server_cpu_us_per_msg"),
        "lower",
        "server CPU µs/message, each at its own capacity",
    ),
    (
        "handshake",
        ("server_cpu_ms_per_connect",),
        "lower",
        "handshake server CPU/connect",
    ),
    ("idle", ("kib_per_socket",), "lower", "idle KiB/socket"),
]
# Issue 17: CPU per message at these loads (capacity ladder steps, users at
# 8 messages/s each), the same step for both.
STEP_LOADS = {25: "200 msg/s", 100: "800 msg/s"}
# Issue 17: delivery at 800 msg/s (the fanout scenario), absolute bounds.
FANOUT_P50_MS, FANOUT_P99_MS = 1.5, 10.0
# Issue 17: the design card's server, daphne, may carry less than the original.
DAPHNE_CAPACITY_RATIO = 0.75


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


def _ratio_check(results, key, original, scenario, path, better, what) -> str | None:
    if original is None or scenario not in results["scenarios"]:
        return None
    a = _get(results, scenario, key, path)
    b = _get(results, scenario, original, path)
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not b:
        return None
    r = a / b
    goal = DAPHNE_CAPACITY_RATIO if better == "higher" and "daphne" in key else 1.0
    met = r >= goal if better == "higher" else r <= goal
    bound = "≥" if better == "higher" else "≤"
    return (
        f"- {what}: {r:.2f}× the original (target {bound} {goal:.2f}×): "
        f"**{_verdict(met)}**"
    )


def _step(results, key, users):
    steps = _get(results, "capacity", key, ("steps",))
    for step in steps if isinstance(steps, list) else ():
        if step.get("users") == users and not step.get("refined"):
            return step
    return None


def _step_checks(results, key, original) -> list[str]:
    if original is None or "capacity" not in results["scenarios"]:
        return []
    lines = []
    for users, load in STEP_LOADS.items():
        ours, theirs = _step(results, key, users), _step(results, original, users)
        if not ours or not theirs or not theirs["server_cpu_us_per_msg"]:
            continue
        r = ours["server_cpu_us_per_msg"] / theirs["server_cpu_us_per_msg"]
        lines.append(
            f"- server CPU µs/message at {load} (ladder step U={users}): "
            f"{r:.2f}× the original (target ≤ 1.0×): **{_verdict(r <= 1.0)}**"
        )
    return lines


def _delivery_check(results, key) -> str | None:
    p50 = _get(results, "fanout", key, ("p50_ms",))
    p99 = _get(results, "fanout", key, ("p99_ms",))
    if not isinstance(p50, int | float) or not isinstance(p99, int | float):
        return None
    met = p50 <= FANOUT_P50_MS and p99 <= FANOUT_P99_MS
    return (
        f"- delivery at the fanout load: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
        f"(target ≤ {FANOUT_P50_MS:g} / ≤ {FANOUT_P99_MS:g} ms): **{_verdict(met)}**"
    )


def _history_check(results, key) -> str | None:
    if "history" not in results["scenarios"]:
        return None
    p99s = [
        _get(results, "history", key, (case, "p99_ms"))
        for case in ("thread", "older", "mine")
    ]
    p99s = [v for v in p99s if isinstance(v, int | float)]
    if not p99s:
        return None
    worst = max(p99s)
    return (
        f"- history page p99 at 1,000,000 messages (worst page kind): {worst:.1f} ms "
        f"(target < 20 ms): **{'met' if worst < 20 else 'missed'}**"
    )


def targets_section(results) -> str:
    """Each of ours against the original measured in this run."""
    targets = results["targets"]
    original = next((k for k, t in targets.items() if t["kind"] == "original"), None)
    lines = []
    for key, t in targets.items():
        if t["kind"] != "ours":
            continue
        checks = [
            *(_ratio_check(results, key, original, *target) for target in TARGETS),
            *_step_checks(results, key, original),
            _delivery_check(results, key),
            _history_check(results, key),
        ]
        checks = [c for c in checks if c]
        if checks:
            lines += [f"**{t['label']}**", "", *checks, ""]
    return "\n".join(lines)
