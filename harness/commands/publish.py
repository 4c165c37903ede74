"""``owlbench publish [DOC]``: rewrite a document's marked result sections (and a claims file) from the boards' result folders."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.api.errors import ConfigError


def cmd_publish(document: str, claims: str | None, output: str | None, keep_missing: bool = False) -> int:
    from harness.config import load_config
    from harness.io import atomic_write_text
    from harness.report.publish import claims_document, marked_boards, publish_document

    path = Path(document)
    try:
        text = path.read_text(encoding="utf-8")
        boards = marked_boards(text, path.parent, lambda board: load_config(board, output=output).board_dir)
        if not boards:
            raise ConfigError("", "no '<!-- results: BOARD.yaml -->' ... '<!-- /results -->' markers; add one per board to publish")
        missing = [b for b in boards if not b.has_run()]
        if missing and not keep_missing:
            raise ConfigError(str(missing[0].board_dir), f"no results yet; run 'owlbench run {missing[0].config_path}' first, or pass --keep-missing")
        new_text = publish_document(text, boards, keep_missing)
        claims_text = claims_document(boards) if claims else None
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: {document}: cannot read it ({exc.__class__.__name__}); give a markdown file", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"error: {document}: {exc}", file=sys.stderr)
        return 2
    atomic_write_text(path, new_text)
    print(f"{document}: {len(boards) - len(missing)} result sections written" + (f", {len(missing)} kept (not run yet)" if missing else ""))
    if claims_text is not None:
        atomic_write_text(Path(claims), claims_text)
        print(f"{claims}: written from {sum(b.has_run() for b in boards)} result folders")
    return 0
