"""The report: a markdown table (ours beside the original, with ratios), a chart, JSON.

``bench/results/results.md`` and ``chart.png`` are overwritten each run (commit
them with the change they measure); the raw numbers go to a timestamped JSON
file beside them (git-ignored).
"""

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _num(value, digits=1):
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.{digits}f}"


def _get(results, scenario, key, path):
    node = results["scenarios"].get(scenario, {}).get(key)
    for part in path:
        if node is None:
            return None
        if isinstance(node, dict) and "na" in node:
            return node["na"]
        if isinstance(node, dict) and "error" in node:
            return "error"
        node = node.get(part) if isinstance(node, dict) else None
    return node


# (scenario, metric label, path into the scenario's dict for one target, digits)
ROWS = [
    ("handshake", "connects/s", ("connects_per_s",), 0),
    ("handshake", "p50 ms until hello", ("p50_ms",), 1),
    ("handshake", "p99 ms until hello", ("p99_ms",), 1),
    ("handshake", "server CPU ms / connect", ("server_cpu_ms_per_connect",), 2),
    ("fanout", "messages/s sent", ("sent_msgs_per_s",), 0),
    ("fanout", "deliveries/s", ("deliveries_per_s",), 0),
    ("fanout", "end-to-end p50 ms", ("p50_ms",), 2),
    ("fanout", "end-to-end p99 ms", ("p99_ms",), 2),
    ("fanout", "server CPU µs / message", ("server_cpu_us_per_msg",), 0),
    ("fanout", "lost / duplicated deliveries", ("lost_dup",), 0),
    ("capacity", "highest sustained messages/s", ("capacity_display",), 0),
    ("capacity", "p99 ms at capacity", ("at_capacity", "p99_ms"), 1),
    (
        "capacity",
        "server CPU µs / message at capacity",
        ("at_capacity", "server_cpu_us_per_msg"),
        0,
    ),
    ("capacity", "limited by", ("limit",), 0),
    ("idle", "server KiB / idle socket", ("kib_per_socket",), 1),
    ("history", "thread page p50 ms", ("thread", "p50_ms"), 2),
    ("history", "thread page p99 ms", ("thread", "p99_ms"), 2),
    ("history", "thread page req/s", ("thread", "req_per_s"), 0),
    ("history", "older page p99 ms", ("older", "p99_ms"), 2),
    ("history", "older page req/s", ("older", "req_per_s"), 0),
    ("history", "own page (mine) p99 ms", ("mine", "p99_ms"), 2),
    ("history", "own page (mine) req/s", ("mine", "req_per_s"), 0),
]


SLOW_MS = 100.0  # the bound for the inbox at 1,000,000 messages: marked ⚠


def _inbox_keys(results) -> list[tuple[str, str]]:
    """(key, label) of each inbox case, in the order measured."""
    keys: dict[str, str] = {}
    for data in results["scenarios"].get("inbox", {}).values():
        if isinstance(data, dict):
            for key, case in data.items():
                if isinstance(case, dict) and "p99_ms" in case:
                    keys.setdefault(key, case["label"])
    return list(keys.items())


def _inbox_rows(results):
    """One row per inbox request: p50 / p99 ms, req/s (a ⚠ at p99 ≥ 100 ms)."""
    return [
        ("inbox", f"`{label.removeprefix('/api/conversations')or 'first page'}`",
         (key, "cell"), 0)
        for key, label in _inbox_keys(results)
    ]  # fmt: skip


def _prepare(results):
    for per_target in results["scenarios"].get("inbox", {}).values():
        if not isinstance(per_target, dict):
            continue
        for case in per_target.values():
            if isinstance(case, dict) and "p99_ms" in case:
                case["cell"] = (
                    f"{_num(case['p50_ms'], 1)} / {_num(case['p99_ms'], 1)} ms, "
                    f"{_num(case['req_per_s'], 0)} req/s"
                    + (" ⚠" if case["p99_ms"] >= SLOW_MS else "")
                )
    fan = results["scenarios"].get("fanout", {})
    for value in fan.values():
        if isinstance(value, dict) and "lost" in value:
            value["lost_dup"] = f"{value['lost']} / {value['duplicates']}"
    for value in results["scenarios"].get("capacity", {}).values():
        if not isinstance(value, dict) or "steps" not in value:
            continue
        best = value["capacity_msgs_per_s"]
        if value["first_failure"] is None and best:
            value["capacity_display"] = f"≥ {best:,.0f} (no step failed)"
        elif not best and value["steps"]:
            first = value["steps"][0]["offered_msgs_per_s"]
            value["capacity_display"] = f"< {first:,.0f} (first step failed)"
        else:
            value["capacity_display"] = best


def _scenario_title(results, scenario):
    p = results["params"]
    return {
        "handshake": f"handshake ({p['handshake_n']:,} sockets, "
        f"{p['handshake_c']} in flight)",
        "fanout": f"fanout ({p['fanout_users']} users × {p['rate']:g}/s + 5 admins, "
        f"{p['fanout_seconds']:g} s)",
        "capacity": "capacity (ladder U = "
        + ", ".join(str(u) for u in p["ladder"])
        + ")",
        "idle": f"idle ({p['idle_sockets']:,} sockets)",
        "history": "history (1,000,000 messages; p50/p99 one at a time, "
        f"req/s with {p['history_concurrency']} in flight)",
        "inbox": "inbox (GET /api/conversations, 1,000,000 messages in 100,000 "
        f"threads; p50 / p99 one at a time, req/s with {p['history_concurrency']} "
        "in flight)",
    }[scenario]


def _capacity_ratio(results, ours, original) -> str:
    """Capacity ratio, with ≥ / ≤ where a ladder ended before a step failed."""
    cap = results["scenarios"]["capacity"]
    a, b = cap.get(ours, {}), cap.get(original, {})
    if "steps" not in a or "steps" not in b or not b["capacity_msgs_per_s"]:
        return "–"
    ratio = a["capacity_msgs_per_s"] / b["capacity_msgs_per_s"]
    open_a = a["first_failure"] is None  # ours could do more
    open_b = b["first_failure"] is None  # the original could do more
    if open_a and not open_b:
        return f"≥ {ratio:.2f}×"
    if open_b and not open_a:
        return f"≤ {ratio:.2f}×"
    if open_a and open_b:
        return f"? ({ratio:.2f}×)"
    return f"{ratio:.2f}×"


def table(results) -> str:
    _prepare(results)
    targets = results["targets"]
    ours = [k for k, t in targets.items() if t["kind"] == "ours"]
    original = next((k for k, t in targets.items() if t["kind"] == "original"), None)
    head = ["scenario", "metric", *(targets[k]["label"] for k in targets)]
    if original:
        head += [f"{targets[k]['label']} / original" for k in ours]
    lines = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    shown = set()
    for scenario, label, path, digits in ROWS + _inbox_rows(results):
        if scenario not in results["scenarios"]:
            continue
        values = {k: _get(results, scenario, k, path) for k in targets}
        title = "" if scenario in shown else f"**{_scenario_title(results, scenario)}**"
        shown.add(scenario)
        cells = [title, label]
        cells += [_num(values[k], digits) for k in targets]
        if original:
            for k in ours:
                if path == ("capacity_display",):
                    cells.append(_capacity_ratio(results, k, original))
                    continue
                a, b = values[k], values[original]
                if isinstance(a, int | float) and isinstance(b, int | float) and b:
                    cells.append(f"{a / b:.2f}×")
                else:
                    cells.append("–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ladder_table(results) -> str:
    cap = results["scenarios"].get("capacity")
    if not cap:
        return ""
    out = []
    for key, data in cap.items():
        label = results["targets"][key]["label"]
        out += [
            f"\n**{label}**\n",
            "| users | offered msg/s | sent msg/s | deliveries/s | p50 ms | p99 ms "
            "| server CPU µs/msg | server core | generator core "
            "| generator lag p99 ms | others on server core | lost | dup | result |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for s in sorted(data.get("steps", []), key=lambda s: s["users"]):
            cells = [
                str(s["users"]) + (" (refined)" if s.get("refined") else ""),
                _num(s["offered_msgs_per_s"], 0),
                _num(s["sent_msgs_per_s"], 0),
                _num(s["deliveries_per_s"], 0),
                _num(s["p50_ms"], 2),
                _num(s["p99_ms"], 2),
                _num(s["server_cpu_us_per_msg"], 0),
                f"{s['server_cpu_util']:.0%}",
                f"{s['gen_cpu_util']:.0%}",
                _num(s.get("gen_lag_p99_ms"), 1),
                f"{s['other_on_server_core']:.0%}",
                str(s["lost"]),
                str(s["duplicates"]),
                "pass" if s["passed"] else f"stop: {s['failed_because']}",
            ]
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def noise_note(results) -> str | None:
    """Say so when other processes used the server's core during a measurement."""
    worst = []
    for scenario, per_target in results["scenarios"].items():
        for key, data in per_target.items():
            if not isinstance(data, dict):
                continue
            windows = [
                data,
                *(data.get("steps") or []),
                *(v for v in data.values() if isinstance(v, dict)),
            ]
            for w in windows:
                other = w.get("other_on_server_core") if isinstance(w, dict) else None
                if other is not None and other > 0.05:
                    worst.append((other, scenario, results["targets"][key]["label"]))
    if not worst:
        return None
    worst.sort(reverse=True)
    top = ", ".join(f"{o:.0%} in {sc} ({label})" for o, sc, label in worst[:4])
    return (
        "Other processes on this machine were busy on the server's core during "
        f"some measurements (worst: {top}); those figures are less reliable."
    )


def inbox_table(results) -> str:
    """Every inbox request on every target: query, database, p50, p99, req/s."""
    inbox = results["scenarios"].get("inbox")
    if not inbox:
        return ""
    figures = results["meta"].get("data_set", {}).get("figures", {})
    matches = figures.get("search_matches", {})
    lines = [
        "| request | what | server | p50 ms | p99 ms | req/s "
        "| rows | matching messages / names |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for key, label in _inbox_keys(results):
        for target, data in inbox.items():
            case = data.get(key) if isinstance(data, dict) else None
            if not isinstance(case, dict) or "p99_ms" not in case:
                continue
            p99 = _num(case["p99_ms"], 1)
            if case["p99_ms"] >= SLOW_MS:
                p99 += " ⚠"
            m = matches.get(key)
            cells = [
                f"`{label}`",
                case.get("what", ""),
                results["targets"][target]["label"],
                _num(case["p50_ms"], 1),
                p99,
                _num(case["req_per_s"], 0),
                f"{case.get('rows', '–')}" + ("+" if case.get("has_more") else ""),
                f"{m['messages']:,} / {m['names']:,}" if m else "",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def data_set_section(results) -> str:
    data_set = results["meta"].get("data_set")
    if not data_set:
        return ""
    f = data_set.get("figures", {})
    lines = []
    if f:
        lines.append(
            f"{f['messages']:,} messages ({f['notes']:,} notes) in {f['threads']:,} "
            f"threads (bench/dataset.py): {f['resolved']:.0%} resolved, "
            f"{f['unassigned']:.0%} unassigned, {f['needs_reply']:.0%} waiting for a "
            f"reply ({f['open_needs_reply']:.0%} open and waiting), "
            f"{f['read_marks']:,} read marks; texts from a Zipf vocabulary of "
            f"{f['vocabulary']:,} words."
        )
    sqlite = data_set.get("sqlite", {})
    built = sqlite.get("built_s")
    lines.append(
        "SQLite: "
        + (f"generated in {built:.0f} s" if built is not None else "generated")
        + (" (cached from an earlier run)" if sqlite.get("cached") else "")
        + "."
    )
    postgres = data_set.get("postgres")
    if postgres:
        parts = [
            f"{k.removesuffix('_s').replace('_', ' ')} {v:.0f} s"
            for k, v in postgres.items()
            if k.endswith("_s") and k != "built_s" and isinstance(v, int | float)
            and not k.startswith("index ")
        ]  # fmt: skip
        lines.append(
            f"PostgreSQL: loaded from the SQLite file in {postgres['built_s']:.0f} s "
            f"({', '.join(parts)})"
            + (" (kept from an earlier run)" if postgres.get("cached") else "")
            + "."
        )
    return " ".join(lines)


def markdown(results) -> str:
    m = results["meta"]
    parts = [
        "# Benchmark results",
        "",
        f"`{m['command']}` — {m['started']}, {m['duration_s']:.0f} s; "
        f"commit {m['commit']}.",
        f"Machine: {m['cpu']}, {m['cores']} cores; server pinned to core "
        f"{m['server_core']}, load generator (Python {m['python']}, {m['loop']}) "
        f"to core {m['client_core']}; loopback; {m.get('scheduling', '')}.",
        "",
        "Servers: "
        + "; ".join(
            f"{t['label']}: `{t['command']}`" for t in results["targets"].values()
        )
        + ".",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".",
        "",
        "Each message from a user is expected at the 5 admins' sockets and as the "
        "sender's echo (6 frames; for the original the users send `para` = their own "
        "name, see bench/drivers.py). A capacity step passes when p99 ≤ 50 ms and "
        "nothing is lost, duplicated or refused. Ratios are ours / original: above 1 "
        "is better for rates, below 1 for times, CPU and memory.",
        "",
        table(results),
        "",
    ]
    data_set = data_set_section(results)
    if data_set:
        parts += ["## Data set (history, inbox)", "", data_set, ""]
    inbox = inbox_table(results)
    if inbox:
        parts += [
            "## Inbox and search",
            "",
            "One request at a time for p50 / p99, then "
            f"{results['params']['history_concurrency']} in flight for req/s; "
            f"⚠: p99 ≥ {SLOW_MS:.0f} ms. Rows: conversations on the page "
            "(+: more follow).",
            "",
            inbox,
            "",
        ]
    # Here, not at the top: bench.targets reads the results through _get above.
    from bench.targets import targets_section

    targets = targets_section(results)
    if targets:
        parts += ["## Targets (issues 7 and 17)", "", targets]
    ladder = ladder_table(results)
    if ladder:
        parts += ["## Capacity ladder", ladder, ""]
    notes = list(results.get("notes") or [])
    noise = noise_note(results)
    if noise:
        notes.append(noise)
    if notes:
        parts += ["## Notes", "", *(f"- {n}" for n in notes), ""]
    if "capacity" in results["scenarios"]:  # chart.png is of the capacity ladder
        parts += ["![latency and CPU against offered load](chart.png)", ""]
    return "\n".join(parts)


def chart(results, path: Path) -> bool:
    cap = results["scenarios"].get("capacity")
    if not cap:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    colors = ["tab:blue", "tab:green", "tab:purple", "tab:orange"]
    for i, (key, data) in enumerate(cap.items()):
        steps = sorted(
            (s for s in data.get("steps", []) if s.get("p99_ms") is not None),
            key=lambda s: s["offered_msgs_per_s"],
        )
        if not steps:
            continue
        label = results["targets"][key]["label"]
        color = (
            "tab:red"
            if results["targets"][key]["kind"] == "original"
            else colors[i % len(colors)]
        )
        x = [s["offered_msgs_per_s"] for s in steps]
        ax1.plot(
            x, [s["p99_ms"] for s in steps], "o-", color=color, label=f"{label} p99"
        )
        ax1.plot(
            x,
            [s["p50_ms"] for s in steps],
            "s--",
            color=color,
            alpha=0.6,
            label=f"{label} p50",
        )
        ax2.plot(
            x,
            [s["server_cpu_us_per_msg"] for s in steps],
            "o-",
            color=color,
            label=label,
        )
        for s in steps:
            if not s["passed"]:
                ax1.plot(
                    [s["offered_msgs_per_s"]],
                    [s["p99_ms"]],
                    "x",
                    color="black",
                    markersize=10,
                )
    ax1.axhline(50, color="gray", linestyle=":", label="50 ms limit")
    ticks = sorted({u * results["params"]["rate"] for u in results["params"]["ladder"]})
    plain = matplotlib.ticker.FuncFormatter(
        lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"
    )
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(ticks)
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.yaxis.set_major_locator(
            matplotlib.ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0))
        )
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("offered load, messages/s (each delivered as 6 frames)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
        ax.tick_params(axis="x", labelsize=8)
    ax1.set_ylabel("end-to-end latency, ms (log)")
    ax1.set_title("Latency against load (x: the step that failed)")
    ax2.set_ylabel("server CPU µs per message (log)")
    ax2.set_title("Server CPU per message against load")
    fig.suptitle(
        f"Capacity ladder, one core per server — {results['meta']['started']}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return True


def write(results) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = (
        results["meta"]["started"].replace(":", "").replace("-", "").replace(" ", "-")
    )
    raw = RESULTS / f"{stamp}.json"
    raw.write_text(json.dumps(results, indent=2, default=str))
    charted = chart(results, RESULTS / "chart.png.tmp")
    if charted:
        (RESULTS / "chart.png.tmp").replace(RESULTS / "chart.png")
    text = markdown(results)
    (RESULTS / "results.md").write_text(text)
    print(text)
    print(
        f"\nwritten: {RESULTS / 'results.md'}, "
        + ("chart.png, " if charted else "")
        + raw.name,
        file=sys.stderr,
    )
    return raw
