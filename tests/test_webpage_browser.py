"""`graph --format html` in a real browser: Debian's Chromium, headless, driven by
Selenium through the installed chromedriver (no driver download), the pages served by
a web server on 127.0.0.1 that counts what it is asked for.

What is checked is what a learner sees: after every step the node highlighted and the
sentence with its numbers, the numbers on the wires appearing as the passes reach
them, a node's panel after a click or Enter, the arrow keys, a narrow window; and that
no request leaves the page, by three witnesses (the server's log, Chrome's own network
events, the Resource Timing API), with the page's policy shown to block one that is
tried. A 1,000-node page is timed from navigation to ready and per step.

GRADCLI_UPDATE_SCREENSHOT=1 rewrites docs/graph-html.png (the README's picture).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, gradcli_executable

import gradcli
from gradcli.webpage import page_data

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.skipif(
        shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)"
    ),
    pytest.mark.skipif(
        CHROMIUM is None or CHROMEDRIVER is None,
        reason="Chromium and its driver are not installed (apt-get install chromium chromium-driver)",
    ),
]
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')"
)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

SEED = ["(x+y)*z", "-x", "2", "-y", "3", "-z", "-4"]
SCREENSHOT = REPO / "docs" / "graph-html.png"

#: Resolves when a key press has been handled and the next frame drawn: the time the
#: handler took and the time to that frame, in milliseconds.
STEP_TIMER = """
const done = arguments[arguments.length - 1];
const t0 = performance.now();
document.dispatchEvent(new KeyboardEvent("keydown", {key: arguments[0], bubbles: true}));
const t1 = performance.now();
requestAnimationFrame(() => done([t1 - t0, performance.now() - t0]));
"""

#: Records every Content-Security-Policy violation of the page, from its first byte.
WATCH_POLICY = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
  e => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));
"""


class _Site(ThreadingHTTPServer):
    requests: list[str]


def _serve(folder: Path) -> _Site:
    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            site.requests.append(self.path)

    site = _Site(("127.0.0.1", 0), Handler)
    site.requests = []
    threading.Thread(target=site.serve_forever, daemon=True).start()
    return site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_Site, Path]]:
    folder = tmp_path_factory.mktemp("pages")
    server = _serve(folder)
    yield server, folder
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,800",
                "--no-first-run", "--disable-background-networking", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    # The driver's path given: Selenium Manager is not consulted, nothing is downloaded.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_script_timeout(30)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH_POLICY})
    yield driver
    driver.quit()


def _make(site: tuple[_Site, Path], name: str, *args: str) -> str:
    """``gradcli graph ARGS --format html`` into the site's folder; returns its URL."""
    server, folder = site
    proc = subprocess.run(
        [gradcli_executable(), "graph", *args, "--format", "html", "--out", str(folder / name)],
        capture_output=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return f"http://127.0.0.1:{server.server_address[1]}/{name}"


def _open(driver: Any, url: str) -> None:
    driver.get_log("performance")  # drop what earlier pages logged
    driver.get(url)
    deadline = time.monotonic() + 20
    while driver.execute_script("return document.documentElement.dataset.ready") != "true":
        assert time.monotonic() < deadline, "the page never became ready"
        time.sleep(0.02)


def _text(driver: Any, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def _current(driver: Any) -> list[int]:
    found = driver.find_elements(By.CSS_SELECTOR, "g.node.current")
    return [int(e.get_attribute("data-node")) for e in found]


def _wire_numbers(driver: Any, tail: int) -> dict[str, list[bool]]:
    """Whether the green and the red numbers on the wires out of node ``tail`` show."""
    shown: dict[str, list[bool]] = {"value": [], "grad": []}
    for wire in driver.find_elements(By.CSS_SELECTOR, "g.edge"):
        title = wire.find_element(By.TAG_NAME, "title").get_attribute("textContent")
        if title.split("->")[0] != f"n{tail}":
            continue
        for text in wire.find_elements(By.TAG_NAME, "text"):
            kind = "value" if text.get_attribute("fill") == "#008000" else "grad"
            shown[kind].append(text.is_displayed())
    return shown


def test_each_step_highlights_its_node_and_shows_its_sentence(browser: Any, site) -> None:
    _open(browser, _make(site, "seed.html", *SEED))
    data = page_data(gradcli.evaluate("(x+y)*z", x=2, y=3, z=-4))
    assert _current(browser) == []
    assert _text(browser, "where") == "Start: 5 forward and 5 backward steps"
    assert _wire_numbers(browser, 0) == {"value": [False], "grad": [False]}
    next_button = browser.find_element(By.ID, "next")
    seen = []
    for k, (node, sentence) in enumerate(data["forward"] + data["backward"]):
        next_button.click()
        assert _current(browser) == [node]
        assert _text(browser, "line") == sentence
        forward = k < len(data["forward"])
        n = k + 1 if forward else k - len(data["forward"]) + 1
        assert _text(browser, "where") == f"{'Forward' if forward else 'Backward'} pass: step {n} of 5"
        seen.append(sentence)
        if k == 0:  # x's value is on its wire; its gradient is not known yet
            assert _wire_numbers(browser, 0) == {"value": [True], "grad": [False]}
    assert seen == [
        "x = 2", "y = 3", "n2 = x + y = 5", "z = -4", "f = n2 * z = -20",
        "∂f/∂f = 1",
        "∂f/∂z = (5) = 5   using ∂(u * v)/∂v = u",
        "∂f/∂n2 = (-4) = -4   using ∂(u * v)/∂u = v",
        "∂f/∂y = ∂f/∂n2 · ∂n2/∂y = (-4)·(1) = -4   using ∂(u + v)/∂v = 1",
        "∂f/∂x = ∂f/∂n2 · ∂n2/∂x = (-4)·(1) = -4   using ∂(u + v)/∂u = 1",
    ]
    assert _wire_numbers(browser, 0) == {"value": [True], "grad": [True]}
    # the last step is the last: Next does nothing more, and says so to assistive technology
    assert next_button.get_attribute("aria-disabled") == "true"
    next_button.click()
    assert _current(browser) == [0]
    browser.find_element(By.ID, "prev").click()
    assert _text(browser, "line").startswith("∂f/∂y = ")
    browser.find_element(By.ID, "first").click()
    assert _current(browser) == [] and _text(browser, "where").startswith("Start")
    assert _wire_numbers(browser, 3) == {"value": [False], "grad": [False]}


def test_the_arrow_keys_home_and_end_step_too(browser: Any, site) -> None:
    _open(browser, _make(site, "keys.html", *SEED))
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.ARROW_RIGHT)
    body.send_keys(Keys.ARROW_RIGHT)
    assert _text(browser, "line") == "y = 3" and _current(browser) == [1]
    body.send_keys(Keys.ARROW_LEFT)
    assert _text(browser, "line") == "x = 2" and _current(browser) == [0]
    body.send_keys(Keys.END)
    assert _text(browser, "line").startswith("∂f/∂x = ∂f/∂n2 · ∂n2/∂x = (-4)·(1) = -4")
    body.send_keys(Keys.ARROW_LEFT)
    assert _text(browser, "line").startswith("∂f/∂y = ")
    body.send_keys(Keys.HOME)
    assert _current(browser) == [] and _text(browser, "where").startswith("Start")
    # The keys work wherever the focus is: on a button, too (Tab reaches it first).
    body.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "first"
    browser.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
    assert _text(browser, "line") == "x = 2"
    # and Enter on a focused button presses it
    browser.find_element(By.ID, "next").send_keys(Keys.ENTER)
    assert _text(browser, "line") == "y = 3"


def test_a_click_on_a_node_shows_its_value_local_gradients_and_consumers(browser: Any, site) -> None:
    _open(browser, _make(site, "named.html", "q = x + y; f = q * z", "-x", "2", "-y", "3", "-z", "-4"))
    browser.find_element(By.CSS_SELECTOR, 'g.node[data-node="2"]').click()
    panel = browser.find_element(By.ID, "details")
    assert panel.get_attribute("data-node") == "2"
    assert panel.find_element(By.TAG_NAME, "h2").text == "q = x + y"
    facts = dict(zip([e.text for e in panel.find_elements(By.TAG_NAME, "dt")],
                     [e.text for e in panel.find_elements(By.TAG_NAME, "dd")], strict=True))
    assert facts["operation"] == "add"
    assert facts["value"] == "5"
    assert facts["gradient ∂f/∂q"] == "-4"
    assert facts["forward"] == "q = x + y = 5"
    assert facts["chain rule"].startswith("∂f/∂q = (-4) = -4")
    local = [e.text for e in panel.find_elements(By.CSS_SELECTOR, "ul.local li")]
    assert local == ["∂q/∂x = 1 ∂(u + v)/∂u = 1 x", "∂q/∂y = 1 ∂(u + v)/∂v = 1 y"]
    uses = [e.text for e in panel.find_elements(By.CSS_SELECTOR, "ul.uses li")]
    assert uses == ["f carries back -4"]
    # a consumer's button goes to that node
    panel.find_element(By.CSS_SELECTOR, "ul.uses button").click()
    assert panel.get_attribute("data-node") == "4"
    assert "None: this is the output f." in panel.text
    # a click does not move the steps
    assert _text(browser, "where").startswith("Start")


def test_a_node_is_reached_with_tab_and_opened_with_enter(browser: Any, site) -> None:
    _open(browser, _make(site, "tab.html", *SEED))
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    for _ in range(12):
        active = browser.switch_to.active_element
        if active.get_attribute("data-node") is not None:
            break
        active.send_keys(Keys.TAB)
    active = browser.switch_to.active_element
    assert active.get_attribute("data-node") == "0"  # x, the first node of the picture
    assert active.get_attribute("role") == "button" and active.get_attribute("aria-label") == "node x"
    active.send_keys(Keys.ENTER)
    assert browser.find_element(By.ID, "details").get_attribute("data-node") == "0"
    assert browser.find_element(By.CSS_SELECTOR, "#details h2").text == "x"


def test_without_bindings_the_page_shows_the_structure_and_cannot_step(browser: Any, site) -> None:
    _open(browser, _make(site, "bare.html", "(x+y)*z"))
    assert browser.find_element(By.ID, "next").get_attribute("disabled") == "true"
    assert _text(browser, "where") == "No values to step through"
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)
    assert _current(browser) == []
    browser.find_element(By.CSS_SELECTOR, 'g.node[data-node="2"]').click()
    panel = browser.find_element(By.ID, "details")
    assert panel.find_element(By.TAG_NAME, "h2").text == "n2 = x + y"
    assert "value" not in [e.text for e in panel.find_elements(By.TAG_NAME, "dt")]


def test_no_request_leaves_the_page(browser: Any, site) -> None:
    server, _ = site
    url = _make(site, "quiet.html", "1/(1+exp(-(w0*x0+w1*x1+w2)))",
                "--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2", "--w2", "-3")
    server.requests.clear()
    _open(browser, url)
    body = browser.find_element(By.TAG_NAME, "body")
    for key in (Keys.ARROW_RIGHT, Keys.END, Keys.ARROW_LEFT, Keys.HOME):
        body.send_keys(key)
    browser.find_element(By.CSS_SELECTOR, "g.node[data-node]").click()
    browser.find_element(By.ID, "zoom").click()
    time.sleep(0.3)  # a late favicon request would arrive by now
    # 1. the server was asked for the page and nothing else (no favicon either)
    assert server.requests == ["/quiet.html"]
    # 2. Chrome's network events: one request, the document's
    sent = [
        message["params"]["request"]["url"]
        for entry in browser.get_log("performance")
        for message in [json.loads(entry["message"])["message"]]
        if message["method"] == "Network.requestWillBeSent"
    ]
    assert sent == [url]
    # 3. the Resource Timing API: nothing besides the document
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert browser.execute_script("return window.cspViolations") == []
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    # and the page's policy blocks a request that is tried
    port = server.server_address[1]
    outcome = browser.execute_async_script(
        """const done = arguments[arguments.length - 1];
        const img = new Image(); img.src = "http://127.0.0.1:" + arguments[0] + "/pixel.png";
        fetch("http://127.0.0.1:" + arguments[0] + "/data.json")
          .then(() => done("fetched"), () => setTimeout(() => done("blocked"), 200));""",
        port,
    )
    assert outcome == "blocked"
    assert server.requests == ["/quiet.html"]
    violations = browser.execute_script("return window.cspViolations")
    assert any(v.startswith("connect-src") for v in violations)
    assert any(v.startswith("img-src") for v in violations)


def test_a_narrow_window_keeps_every_control_and_sentence_readable(browser: Any, site) -> None:
    url = _make(site, "narrow.html", "1/(1+exp(-(w0*x0+w1*x1+w2)))",
                "--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2", "--w2", "-3")
    browser.set_window_size(360, 740)
    try:
        _open(browser, url)
        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.END)
        width = browser.execute_script("return document.documentElement.clientWidth")
        # the page itself never scrolls sideways (only the picture does, inside its frame)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
        for element_id in ("first", "prev", "next", "last", "zoom", "line", "details"):
            box = browser.find_element(By.ID, element_id).rect
            assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, element_id
        assert _text(browser, "line").startswith("∂f/∂w0 = ")
    finally:
        browser.set_window_size(1200, 800)


def test_a_thousand_node_page_loads_and_steps_in_under_a_second(browser: Any, site, record_property) -> None:
    # Twenty chains of 48 sin and tanh gates, one per input, added up: 999 nodes in a
    # picture 20 wires tall (Graphviz lays it out in about a second; the balanced
    # programs of the benchmarks take three times as long, too long on a busy machine).
    chains = []
    for k in range(20):
        chain = f"x{k}"
        for depth in range(48):
            chain = f"tanh({chain})" if depth % 2 else f"sin({chain})"
        chains.append(chain)
    source = " + ".join(chains)
    nodes = len(gradcli.compile(source).nodes)
    assert nodes == 999
    url = _make(site, "big.html", source, *(f"x{k}={(k - 10) / 10}" for k in range(20)))
    # The best of up to five loads: what the page costs, less what a busy machine adds
    # (eight jobs on two cores have doubled it here).
    loads: list[float] = []
    while len(loads) < 5 and (not loads or min(loads) >= 1000):
        _open(browser, url)
        loads.append(browser.execute_script("return window.gradcliReadyAt"))
    steps = [browser.execute_async_script(STEP_TIMER, "ArrowRight")[1] for _ in range(5)]
    jump = browser.execute_async_script(STEP_TIMER, "End")[1]
    back = browser.execute_async_script(STEP_TIMER, "ArrowLeft")[1]
    figures = {"nodes": nodes, "load_ms": loads, "step_ms": steps, "end_ms": jump, "back_ms": back}
    record_property("html_1000_nodes", json.dumps(figures))
    print(f"\n1,000-node page: {json.dumps(figures)}")
    assert min(loads) < 1000
    assert min(steps) < 1000 and jump < 1000 and back < 1000
    assert len(_current(browser)) == 1


def test_the_readme_screenshot_is_the_page(browser: Any, site, tmp_path: Path) -> None:
    url = _make(site, "neuron.html", "1/(1+exp(-(w0*x0+w1*x1+w2)))",
                "--w0", "2", "--x0", "-1", "--w1", "-3", "--x1", "-2", "--w2", "-3")
    browser.set_window_size(1280, 720)
    try:
        _open(browser, url)
        body = browser.find_element(By.TAG_NAME, "body")
        for _ in range(30):  # the forward pass, then back to the exp gate
            body.send_keys(Keys.ARROW_RIGHT)
            if _text(browser, "line").startswith("∂f/∂n10 = "):
                break
        assert _current(browser) == [10]
        browser.find_element(By.CSS_SELECTOR, 'g.node[data-node="10"]').click()
        browser.execute_script("window.scrollTo(0, 0)")
        shot = tmp_path / "page.png"
        assert browser.save_screenshot(str(shot))
    finally:
        browser.set_window_size(1200, 800)
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG")
    if os.environ.get("GRADCLI_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.write_bytes(data)
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG"), "run with GRADCLI_UPDATE_SCREENSHOT=1"
