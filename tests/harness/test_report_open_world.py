"""The leaderboard table shows clustering columns for open-world rows and accuracy columns for the others."""

import pandas as pd

from harness.report import SUMMARY_KEYS, markdown_table


def _row(scenario, **values):
    row = {"scenario": scenario, "kind": scenario, "strategy": "nmc", "seeds_done": 2, "seeds_total": 2, "wall_time_s_mean": 1.0}
    for key in SUMMARY_KEYS:
        row[f"{key}_mean"], row[f"{key}_std"] = values.get(key, (None, None))
    return row


def test_open_world_only_board_has_no_accuracy_columns():
    table = pd.DataFrame([_row("ncd", last_clustering_accuracy=(0.5, 0.01), new_classes_estimated=(6.5, 0.7), new_classes_true=(7.0, 0.0))])
    text = markdown_table(table, "b")
    assert "clust acc All" in text and "last acc" not in text
    assert "| ncd | nmc | 2/2 | 50.0 ± 1.0 |" in text
    assert "6.5 ± 0.7 / 7" in text


def test_closed_world_board_keeps_its_columns():
    table = pd.DataFrame([_row("cil", last_accuracy=(0.9, None))])
    header = markdown_table(table, "b").splitlines()[2]
    assert header == (
        "| scenario | strategy | seeds | last acc | avg inc acc | forgetting | BWT | last HM (base/novel) | AUROC | FPR@95 | AUPR-In"
        " | time/job (s) |"
    )


def test_closed_and_open_world_rows_get_a_table_each():
    table = pd.DataFrame([_row("cil", last_accuracy=(0.9, None)), _row("ncd", last_clustering_accuracy=(0.5, 0.01)), _row("fscil")])
    text = markdown_table(table, "b")
    headers = [line for line in text.splitlines() if line.startswith("| scenario")]
    assert len(headers) == 2 and "last acc" in headers[0] and "clust acc All" not in headers[0] and "clust acc All" in headers[1]
    rows = [line.split(" | ")[0] for line in text.splitlines() if line.startswith("| ") and not line.startswith("| scenario")]
    assert rows == ["| cil", "| fscil", "| ncd"]  # fscil joins cil's table (the same columns)
