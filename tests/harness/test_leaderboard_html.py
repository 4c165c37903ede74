"""leaderboard.html in headless Chromium at 1,400 × 900: the tables render, a header click sorts them, the
document does not overflow the window sideways, each row links to its job folders, a screenshot is saved.

Chromium is driven through the DevTools protocol (``--remote-debugging-port``) with the
``websocket-client`` package; the test skips, naming what is missing, without either.
"""

import base64
import json
import re
import shutil
import subprocess
import time
import urllib.request

import pytest
import yaml

from harness.cli import main

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
websocket = pytest.importorskip("websocket", reason="websocket-client is not installed (pip install 'owlbench[dev]')")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")

BOARD = {
    "name": "page",
    "dataset": "digits",
    "scenarios": [
        {"kind": "cil", "base_classes": 4, "increment": 3}, {"kind": "fscil", "base_classes": 4, "ways": 3, "shots": 2},
        {"kind": "ncd", "known_classes": 5},
    ],
    "strategies": [{"name": "nmc", "grid": {"metric": ["euclidean", "cosine"], "normalize_features": [False, True]}}],
    "seeds": [0],
    "device": "cpu",
}


class DevTools:
    """The smallest DevTools-protocol client: one page, commands by id, events skipped."""

    def __init__(self, url: str):
        self.ws = websocket.create_connection(url, timeout=30)
        self.next_id = 0

    def __call__(self, method: str, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message["result"]

    def wait_event(self, name: str, timeout: float = 30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if json.loads(self.ws.recv()).get("method") == name:
                return
        raise TimeoutError(name)

    def js(self, expression: str):
        result = self("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")


@pytest.fixture
def browser(tmp_path):
    profile = tmp_path / "profile"
    profile.mkdir()
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", "--remote-debugging-port=0",
        "--remote-allow-origins=*",  # websocket-client sends an Origin header, which Chromium refuses without this
        "--window-size=1400,900", "about:blank",
    ]
    process = subprocess.Popen([CHROMIUM, *flags], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        for line in process.stderr:  # "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/..."
            found = re.search(r"ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                port = int(found.group(1))
                break
        assert port, "chromium did not start its DevTools endpoint"
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30).read())
        page = next(t for t in targets if t["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        yield tools
        tools.ws.close()
    finally:
        process.kill()
        process.wait()


def _order(tools: DevTools, column: int) -> list[tuple[str, str]]:
    """(row label, sort value of the column) for every body row, top to bottom."""
    return [
        tuple(x)
        for x in tools.js(
            "Array.from(document.querySelectorAll('#leaderboard tbody tr')).map("
            f"r => [r.cells[0].textContent + '/' + r.cells[2].textContent, r.cells[{column}].dataset.value])"
        )
    ]


def _click(tools: DevTools, selector: str) -> None:
    """A real mouse click at the middle of the element."""
    box = tools.js(f"(() => {{ const r = document.querySelector('{selector}').getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()")
    for kind in ("mousePressed", "mouseReleased"):
        tools("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1)


def test_page_renders_sorts_and_is_screenshot(tmp_path, browser):
    config = tmp_path / "board.yaml"
    config.write_text(yaml.safe_dump(BOARD))
    assert main(["run", str(config), "--output", str(tmp_path / "results"), "--quiet"]) == 0
    board = tmp_path / "results" / "page"
    page = board / "leaderboard.html"
    # nothing fetched from a network: every image is a data URI, every link a job folder beside the page
    html = page.read_text()
    urls = re.findall(r'(?:src|href)="([^"]*)"', html)
    links = [u for u in urls if not u.startswith("data:image/png;base64,")]
    assert links and all(re.fullmatch(r"[0-9a-f]{12}/", u) and (board / u / "done").is_file() for u in links), links
    assert len(links) == len(list(board.glob("*/done")))  # one link per job
    assert "http" not in re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)

    browser("Emulation.setDeviceMetricsOverride", width=1400, height=900, deviceScaleFactor=1, mobile=False)
    browser("Page.enable")
    browser("Page.navigate", url=page.as_uri())
    browser.wait_event("Page.loadEventFired")
    assert browser.js("window.innerWidth") == 1400
    assert browser.js("document.documentElement.scrollWidth") <= 1400  # no sideways scrolling of the page
    assert browser.js("document.querySelectorAll('table.leaderboard').length") == 2  # closed-world and open-world families
    assert browser.js("getComputedStyle(document.querySelector('#leaderboard th')).position") == "sticky"
    captions = browser.js("Array.from(document.querySelectorAll('figcaption')).map(c => c.textContent)")
    assert len(captions) == browser.js("document.images.length") and all(captions)
    headers = browser.js("Array.from(document.querySelectorAll('#leaderboard thead th')).map(h => h.dataset.column)")
    column = headers.index("last_accuracy")
    initial = _order(browser, column)
    assert len(initial) == 8 and all(value for _, value in initial)  # every row rendered with a number
    assert browser.js("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    # accuracy, AUROC, clustering, forgetting, accuracy matrices, ranks, cost (nothing trained: no training curves)
    assert browser.js("document.images.length") == 7

    _click(browser, "th[data-column=last_accuracy]")
    ascending = _order(browser, column)
    _click(browser, "th[data-column=last_accuracy]")
    descending = _order(browser, column)
    values = [float(v) for _, v in initial]
    assert [float(v) for _, v in ascending] == sorted(values)
    assert [float(v) for _, v in descending] == sorted(values, reverse=True)
    assert sorted(ascending) == sorted(initial)  # the same rows, reordered
    assert ascending != initial or descending != initial
    assert browser.js("document.querySelector('th[data-column=last_accuracy]').getAttribute('aria-sort')") == "descending"

    shot = browser("Page.captureScreenshot", format="png")
    (board / "leaderboard-screenshot.png").write_bytes(base64.b64decode(shot["data"]))
    assert (board / "leaderboard-screenshot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the URL fragment opens the page sorted
    browser("Page.navigate", url="about:blank")
    browser.wait_event("Page.loadEventFired")
    browser("Page.navigate", url=page.as_uri() + "#sort=strategy:desc")
    browser.wait_event("Page.loadEventFired")
    labels = [label.split("/")[1] for label, _ in _order(browser, column)]
    assert labels == sorted(labels, reverse=True)
