"""``owlbench --help`` stays fast: importing the command line does not import torch."""

import subprocess
import sys


def test_cli_module_does_not_import_torch():
    code = "import sys, harness.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
