"""``owlbench report BOARD``: rebuild a board's tables, figures and page from its job folders.

Nothing runs: the report is made from ``board.json`` and the finished job folders alone, exactly
as at the end of a run (so the same folders give byte-identical tables).  Useful after copying job
folders from another machine, after an interrupted run, or after upgrading owlbench.
"""

from __future__ import annotations



def cmd_report(config_path: str, output: str | None = None, quiet: bool = False) -> int:
    from harness.commands.boards import ran_board
    from harness.report import write_report
    from harness.report.terminal import terminal_table

    config = ran_board(config_path, output)
    if config is None:
        return 2
    board_dir = config.board_dir
    table, _ = write_report(board_dir)
    if not quiet:
        print(terminal_table(table, config.name))
    print(f"wrote the report of {len(table)} rows into {board_dir}")
    return 0
