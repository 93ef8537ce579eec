"""The HTML run report: every section with its embedded pictures, nothing fetched from
elsewhere, read-only access that works on a run that is still being written, and (where
Chromium is installed) a render without console errors."""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import sqlite3
import subprocess
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ibp_evolve.cli.main import main
from ibp_evolve.reports.html import SECTIONS, build_report, read_run
from ibp_evolve.runs.store import CandidateRecord, RunDatabase, RunError, RunFolder

SUITE = """name = "box_small"
family = "box"
targets = [[1, 1, 1, 1], [2, 1, 1, 1]]
max_seeds = 400
"""
CHROMIUM = "/usr/bin/chromium"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A short GP run on a two-target box suite, started from two library rules so that it
    has complete rules, a Pareto front and a lineage."""
    root = tmp_path_factory.mktemp("report")
    suite = root / "box_small.toml"
    suite.write_text(SUITE)
    run = root / "run"
    assert main(["evolve", "--suite", str(suite), "--population", "16", "--generations", "3",
                 "--workers", "0", "--seed", "2", "--start", "improved_seeding_dots",
                 "--start", "laporta", "--out", str(run), "--quiet"]) == 0
    return run


# ----------------------------------------------------------------------------- HTML checks

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Strict(HTMLParser):
    """Builds a tree and fails on any unbalanced tag (a stricter check than browsers make)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = [{"tag": "#root", "attrs": {}, "children": [], "text": []}]
        self.errors = []

    def handle_starttag(self, tag, attrs):
        node = {"tag": tag, "attrs": dict(attrs), "children": [], "text": []}
        self.stack[-1]["children"].append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1]["children"].append({"tag": tag, "attrs": dict(attrs), "children": [],
                                           "text": []})

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if self.stack[-1]["tag"] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1]['tag']}>")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1]["text"].append(data)


def parse(text: str) -> dict:
    parser = Strict()
    parser.feed(text)
    parser.close()
    assert not parser.errors, parser.errors[:5]
    assert len(parser.stack) == 1, f"unclosed: {[n['tag'] for n in parser.stack[1:]]}"
    return parser.stack[0]


def walk(node):
    yield node
    for child in node["children"]:
        yield from walk(child)


def text_of(node) -> str:
    return "".join(n_text for n in walk(node) for n_text in n["text"])


def sections(tree) -> dict:
    return {n["attrs"]["id"]: n for n in walk(tree) if n["tag"] == "section"}


def embedded_images(section) -> list:
    """Decoded pictures of a section: ('png', bytes) or ('svg', root element)."""
    out = []
    for n in walk(section):
        if n["tag"] == "img":
            src = n["attrs"]["src"]
            assert src.startswith("data:image/png;base64,"), src[:60]
            data = base64.b64decode(src.split(",", 1)[1], validate=True)
            assert data.startswith(PNG_MAGIC)
            out.append(("png", data))
        elif n["tag"] == "svg":
            out.append(("svg", n))
    return out


def check_report(text: str, without_pictures=("configuration",)) -> dict:
    tree = parse(text)
    found = sections(tree)
    assert list(found) == list(SECTIONS)
    for name, section in found.items():
        if name not in without_pictures:
            assert embedded_images(section), f"section {name} has no embedded picture"
    # nothing is fetched from elsewhere: no scripts, stylesheets or remote sources
    for n in walk(tree):
        assert n["tag"] not in ("script", "link", "iframe", "object")
        for attr in ("src", "href"):
            value = n["attrs"].get(attr)
            if value is not None and n["tag"] != "a":
                assert value.startswith("data:") or value.startswith("#"), value[:80]
        if n["tag"] == "a":
            assert n["attrs"]["href"].startswith("#")
    assert "url(http" not in text and "@import" not in text
    return found


def inline_svgs_are_xml(text: str) -> int:
    svgs = re.findall(r"<svg .*?</svg>", text, flags=re.S)
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
    return len(svgs)


# ----------------------------------------------------------------------------- the report

def test_report_command_writes_into_the_run_folder_and_prints_the_path(small_run, capsys):
    code = main(["report", str(small_run), "--quiet", "--seed-maps", "2"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    path = Path(out.strip())
    assert path == small_run / "report.html" and path.is_file()
    text = path.read_text()
    found = check_report(text)
    assert inline_svgs_are_xml(text) >= 4

    run = read_run(small_run)
    best = run.best(5)
    # the best rules, as formulas, with one seed map per target for the first two ranks
    best_text = text_of(found["best"])
    for rec in best:
        assert rec.formula in best_text
    pngs = [i for i in embedded_images(found["best"]) if i[0] == "png"]
    assert len(pngs) == 2 * 2
    assert "laporta" in best_text and "improved_seeding" in best_text  # baselines
    # the lineage lists the best rule, its parents and the operations that made it
    lineage_text = text_of(found["lineage"])
    assert f"Candidate #{best[0].id}" in lineage_text
    for parent in best[0].parents:
        assert f"#{parent}" in lineage_text
    assert best[0].operation in lineage_text
    # the configuration shows the run's settings
    config_text = text_of(found["configuration"])
    assert "engine_config.population" in config_text and "box_small" in config_text
    # the Pareto table holds exactly the front: seeds fall strictly as size grows
    front = run.pareto_front()
    assert front and all(a.size < b.size and a.seeds > b.seeds
                         for a, b in zip(front, front[1:]))
    complete = [c for c in run.candidates if c.status == "ok" and c.complete]
    for c in complete:  # nothing on the front is beaten in both seeds and size
        assert not any(c.size <= f.size and c.seeds < f.seeds or
                       c.size < f.size and c.seeds <= f.seeds for f in front)


def test_report_to_out_without_seed_maps_or_baselines(small_run, tmp_path, capsys):
    out_file = tmp_path / "sub" / "r.html"
    code = main(["report", str(small_run), "--out", str(out_file), "--seed-maps", "0",
                 "--no-baselines", "--quiet"])
    assert code == 0 and capsys.readouterr().out.strip() == str(out_file)
    found = check_report(out_file.read_text(), without_pictures=("configuration", "best"))
    assert not [i for i in embedded_images(found["best"]) if i[0] == "png"]


def test_report_of_a_folder_that_is_not_a_run_fails_with_a_message(tmp_path, capsys):
    assert main(["report", str(tmp_path), "--quiet"]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_a_run_with_no_candidate_yet_still_has_every_section(tmp_path):
    run = RunFolder.create(tmp_path / "fresh", {"engine": "deap", "suite": "box_small",
                                                "objective": "seeds"})
    try:
        text = build_report(tmp_path / "fresh", seed_maps=0, baselines=())
    finally:
        run.close()
    check_report(text, without_pictures=("configuration", "best"))
    assert "still in progress" in text and "No scored rule yet" in text


# ----------------------------------------------------------------------------- reading live runs

def test_reading_never_blocks_a_writer_and_sees_only_committed_generations(small_run,
                                                                           tmp_path):
    live = tmp_path / "live"
    shutil.copytree(small_run, live)
    before = read_run(live)
    writer = RunDatabase(live / RunFolder.DATABASE)
    writer.set_meta(status="running")
    # the writer holds its write lock, with rows not yet committed, while we read
    writer.conn.execute("BEGIN IMMEDIATE")
    writer.conn.execute("INSERT INTO candidates (id, engine, operation, parents, generation, "
                        "source, status, created_at) VALUES (100000, 'deap', 'random', '[]', "
                        "99, 'def keep(seed, target):\n    return True\n', 'ok', 0)")
    during = read_run(live)
    assert len(during.candidates) == len(before.candidates)
    assert during.status == "running"
    text = build_report(during, seed_maps=0, baselines=())
    assert "still in progress" in text
    # ... and the reader left no lock behind: the writer commits at once
    writer.conn.execute("COMMIT")
    writer.add_candidates([CandidateRecord(id=100001, engine="deap", operation="random",
                                           source="def keep(seed, target):\n    return True\n",
                                           generation=99)])
    after = read_run(live)
    assert len(after.candidates) == len(before.candidates) + 2
    writer.close()


def test_the_reader_opens_the_database_read_only(small_run, tmp_path):
    frozen = tmp_path / "frozen"
    shutil.copytree(small_run, frozen)
    db = frozen / RunFolder.DATABASE
    # checkpoint the WAL so that the file alone is the database, then forbid writes to it
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    content = db.read_bytes()
    db.chmod(0o444)
    try:
        run = read_run(frozen)
        assert run.candidates and run.best(1)
    finally:
        db.chmod(0o644)
    assert db.read_bytes() == content


def test_a_corrupt_database_is_an_error_not_a_crash(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"engine": "deap"}))
    (tmp_path / "run.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(RunError, match="cannot read"):
        read_run(tmp_path)


# ----------------------------------------------------------------------------- Chromium

class DevTools:
    """A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (fds 3 and 4,
    messages separated by NUL bytes): enough to load a page, collect its errors and take a
    screenshot."""

    FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             "--remote-debugging-pipe"]

    def __init__(self, profile: Path):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire():  # runs in the child before exec: the pipe ends become fds 3 and 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.proc = subprocess.Popen([CHROMIUM] + self.FLAGS + [f"--user-data-dir={profile}",
                                                                "about:blank"],
                                     preexec_fn=wire, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer")
            ready, _, _ = select.select([self._from_chrome], [], [], left)
            if ready:
                chunk = os.read(self._from_chrome, 1 << 20)
                if not chunk:
                    raise RuntimeError("Chromium closed the pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, timeout: float = 60.0, **params):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60.0) -> dict:
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            event = self._read_message(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)

    def close(self):
        try:
            self.call("Browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def render(page: Path, screenshot: Path, profile: Path) -> list[str]:
    """Load ``page`` in headless Chromium, save a full-page screenshot, return its errors:
    uncaught exceptions, console errors, error log entries and failed loads."""
    browser = DevTools(profile)
    try:
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        session = browser.call("Target.attachToTarget", targetId=target,
                               flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable", session)
        browser.call("Emulation.setDeviceMetricsOverride", session, width=1280, height=900,
                     deviceScaleFactor=1, mobile=False)
        browser.call("Page.navigate", session, url=page.resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        # a round trip after the load event lets late errors arrive
        browser.call("Runtime.evaluate", session, expression="document.readyState")
        shot = browser.call("Page.captureScreenshot", session, format="png",
                            captureBeyondViewport=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        errors = []
        for e in browser.events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                errors.append(p["exceptionDetails"].get("text", "exception") + " "
                              + str(p["exceptionDetails"].get("exception", {})
                                    .get("description", "")))
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append("console." + p["type"] + ": " + " ".join(
                    str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
                errors.append("log: " + p["entry"]["text"])
            elif method == "Network.loadingFailed":
                errors.append("load failed: " + p.get("errorText", ""))
        return errors
    finally:
        browser.close()


needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                    reason=f"{CHROMIUM} is not installed (.ci/run installs "
                                           f"Debian's chromium package)")


@needs_chromium
def test_the_error_detector_catches_a_broken_page(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><img src='missing.png'/>"
                    "<script>console.error('bad thing'); undefinedFunction();</script>"
                    "</body></html>")
    errors = render(page, tmp_path / "broken.png", tmp_path / "profile")
    text = "\n".join(errors)
    assert "bad thing" in text and "undefinedFunction" in text
    assert "ERR_FILE_NOT_FOUND" in text


@needs_chromium
def test_the_report_renders_in_headless_chromium_without_console_errors(small_run,
                                                                        tmp_path):
    page = tmp_path / "report.html"
    assert main(["report", str(small_run), "--out", str(page), "--seed-maps", "1",
                 "--quiet"]) == 0
    shot = tmp_path / "report.png"
    errors = render(page, shot, tmp_path / "profile")
    assert errors == []
    data = shot.read_bytes()
    assert data.startswith(PNG_MAGIC)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 1200 and height > 2000  # the whole page, not just the first screen


# ----------------------------------------------------------------------------- readable figures

def _renderer(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _label_boxes(fig):
    renderer = _renderer(fig)
    ax = fig.axes[0]
    return [t.get_window_extent(renderer) for t in ax.texts], ax


def _lineage_nodes(generations: int, per_generation: int):
    from types import SimpleNamespace
    nodes = []
    for g in range(generations - 1, -1, -1):
        for k in range(per_generation):
            nodes.append(SimpleNamespace(
                id=10_000 + 10 * g + k, generation=g, operation="crossover",
                parents=[10_000 + 10 * (g - 1)] if g else [], complete=bool(k % 2),
                seeds=1_000 + g))
    return nodes


@pytest.mark.parametrize("generations, per_generation", [(11, 4), (30, 1), (8, 8)])
def test_the_lineage_labels_never_overlap(generations, per_generation):
    """Every node's label ("#id" over its seeds) stays clear of every other label, for a
    compact lineage, a long thin one and a wide one."""
    from ibp_evolve.reports.html import _lineage_figure
    boxes, _ = _label_boxes(_lineage_figure(_lineage_nodes(generations, per_generation)))
    assert len(boxes) == generations * per_generation
    overlaps = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:] if a.overlaps(b)]
    assert overlaps == []


def test_the_validity_legend_sits_above_the_bars(small_run):
    """Shares reach 1: a legend inside the axes would hide the top of the bars."""
    from ibp_evolve.reports.html import _validity_figure
    fig = _validity_figure(read_run(small_run))
    renderer = _renderer(fig)
    ax = fig.axes[0]
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y0 >= ax.get_window_extent().y1 - 1


def test_the_configuration_dates_are_utc_not_unix_seconds(small_run):
    text = build_report(small_run, seed_maps=0, baselines=())
    section = text[text.index("<section id='configuration'>"):]
    assert re.search(r"<td[^>]*>created</td><td[^>]*>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td>", section)
    assert not re.search(r"\b1[0-9]{9}\.\d+", section), "a raw Unix time is shown"
    assert re.search(r"<td[^>]*>stopped</td><td[^>]*>generation budget spent</td>", section)
