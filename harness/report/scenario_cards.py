"""``scenarios.md``: one card per scenario of a board, from its job folders: the dataset and the SHA-256
of its splits as loaded, how the class order is chosen, the steps with their sizes, what a strategy
sees at each step and which labels it is not given, and the data the board's backbone was
pretrained on (so that an overlap between pretraining data and the benchmark's classes is stated)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness import jobs


def _order_rule(params: dict[str, Any]) -> str:
    if params.get("split"):
        return f"fixed by the published split {params['split']!r} (the seed changes nothing)"
    if params.get("class_order") is not None:
        return f"given in the YAML: {params['class_order']}"
    if params.get("shuffle", True) is False:
        return "dataset label order (shuffle: false)"
    return "a permutation of the dataset's labels drawn from each job's seed (numpy default_rng([seed, 0]))"


def _pretrained_on(backbone: dict[str, Any] | None) -> str:
    if not backbone:
        return "no frozen backbone: the strategies see the dataset's inputs (a strategy may train its own network on them)"
    from harness.api.registry import BACKBONES

    name = backbone.get("name", "?")
    try:
        declared = BACKBONES.get(name).pretrained_on
    except Exception:  # noqa: BLE001 - a backbone no longer registered: say so rather than fail the report
        declared = "unknown (the backbone is not registered here)"
    return f"{name}, pretrained on {declared}"


def _step_line(i: int, config: dict[str, Any], samples: list[int]) -> str:
    labeled = (config.get("step_labeled") or [True] * len(config["steps"]))[i]
    mixes = (config.get("step_mixes_seen") or [False] * len(config["steps"]))[i]
    new = len(config["steps"][i])
    size = f"{min(samples)}" if len(set(samples)) == 1 else f"{min(samples)}–{max(samples)} (by seed)"
    if labeled:
        seen = "inputs and labels"
    else:
        given = "the number of new classes is given" if config.get("num_new_given", True) else "the number of new classes is not given"
        seen = "inputs only (labels hidden); " + given + ("; the samples mix in classes of earlier steps" if mixes else "")
    return f"| {i} | {new} | {size} | {'labeled' if labeled else 'unlabeled'} | {seen} |"


def scenario_cards(board_dir: Path, manifest: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """The markdown of ``scenarios.md`` (empty when no job has finished)."""
    by_scenario: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for record in records:
        config = jobs.read_config(board_dir, record["id"])
        if config:
            by_scenario.setdefault(record["scenario"], []).append((config, record))
    if not by_scenario:
        return ""
    lines = [f"# Scenarios of {manifest['board']}", ""]
    for scenario, items in by_scenario.items():
        config = items[0][0]
        dataset, params = config["dataset"], config["scenario"]["params"]
        hashes = sorted({json.dumps((c.get("provenance") or {}).get("dataset"), sort_keys=True) for c, _ in items})
        lines += [f"## {scenario} ({config['scenario']['name']})", ""]
        lines.append(f"- Dataset: `{dataset['name']}` with {json.dumps(dataset['params'], sort_keys=True)}; {len(config['class_order'])} classes in the order.")
        for text in hashes:
            value = json.loads(text)
            lines.append(f"- Splits as loaded (SHA-256): train `{value['train']}`, test `{value['test']}`." if value else "- Splits as loaded: not recorded (jobs made by an older owlbench).")
        lines.append(f"- Class order: {_order_rule(params)}.")
        lines.append(f"- Scenario parameters: {json.dumps({k: v for k, v in params.items() if k not in ('class_order',)}, sort_keys=True)}.")
        lines.append(f"- Backbone: {_pretrained_on(config.get('backbone'))}.")
        lines.append("- Test labels are never given to a strategy; the harness scores its predictions on the test samples of the classes seen so far, and the other test samples serve as unknowns.")
        seeds = sorted({r["seed"] for _, r in items})
        lines += ["", f"Steps (seeds {', '.join(map(str, seeds))}):", "", "| step | new classes | training samples | kind | what a strategy is given |", "|---|---|---|---|---|"]
        for i in range(len(config["steps"])):
            samples = [r["metrics"]["steps"][i]["train_samples"] for _, r in items if i < len(r["metrics"]["steps"])]
            lines.append(_step_line(i, config, samples or [0]))
        strategies = sorted({r["strategy"] for _, r in items})
        lines += ["", f"Strategies on this scenario: {', '.join(strategies)} (each gets the same steps for a given seed).", ""]
    return "\n".join(lines)
