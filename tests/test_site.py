"""`lessons site`: the static site's content, and every page in a real browser (headless Chromium).

The browser test drives Debian's `chromium` over the DevTools protocol (a websocket, standard
library only). It opens each page at 1280x800 and at 390x844 and checks what a reader would see:
both code columns side by side at 1280 and stacked at 390, no horizontal page scroll, every image
loaded, every internal link resolving. Screenshots stay in the test's tmp dir. Without chromium
(`apt-get install chromium`; .ci/run installs it as root) the browser test is skipped.
"""
from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from shared import cli, specs
from shared.harness import records
from shared.tools import results
from shared.views import concepts, site, twins

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Real results for multiclass (a short compare, a parity run and one hazard's parity run), then the site."""
    tmp = tmp_path_factory.mktemp("site")
    res, out = tmp / "results", tmp / "site"
    common = ["--out", str(res), "--no-progress"]
    assert cli.main(["compare", "multiclass", "--epochs", "2", *common]) == 0
    assert cli.main(["parity", "multiclass", "--steps", "5", *common]) == 0
    assert cli.main(["parity", "multiclass", "--steps", "5", "--hazard", "adam_bias_correction", *common]) == 0
    assert cli.main(["hazards", "--demo", "conv_padding", "--no-cost", "--out", str(res)]) == 0
    assert cli.main(["site", "--out", str(out), "--results", str(res)]) == 0
    return {"root": tmp, "results": res, "site": out}


def _html(built, name: str) -> str:
    return (built["site"] / name).read_text()


def _article(page: str, anchor: str) -> str:
    m = re.search(rf'<article class="pair" id="{re.escape(anchor)}">(.*?)</article>', page, re.S)
    assert m, anchor
    return m.group(1)


def _rows(fragment: str) -> list[dict]:
    """The rows of the (first) table in ``fragment``, as {column header: cell text}."""
    table = re.search(r"<table[^>]*>(.*?)</table>", fragment, re.S).group(1)
    return [{html.unescape(k): html.unescape(v) for k, v in re.findall(r'<td[^>]*data-label="([^"]*)"[^>]*>(.*?)</td>', r)}
            for r in re.findall(r"<tr>(.*?)</tr>", table, re.S) if "<td" in r]


def _code_lines(col: str) -> tuple[list[int], str]:
    """The line numbers and the text (tags stripped, entities decoded) of the code block in ``col``."""
    pre = re.search(r"<pre[^>]*>(.*?)</pre>", col, re.S).group(1)
    numbers, lines = [], []
    for part in re.split(r'<span class="line(?: chg)?"', pre)[1:]:
        m = re.match(r'(?: id="[a-z]+-L\d+")? style="--i:\d+"><span class="lno">(\d+)</span>(.*)$', part, re.S)
        numbers.append(int(m.group(1)))
        lines.append(html.unescape(re.sub(r"<[^>]+>", "", m.group(2))))
    return numbers, "\n".join(lines)


# -- content ---------------------------------------------------------------------------------------

def test_index_lists_lessons_in_course_order_with_what_each_teaches(built):
    page = _html(built, "index.html")
    hrefs = re.findall(r'<h2><a href="([a-z_]+)\.html">', page)
    assert hrefs == list(specs.LESSONS)
    for spec in specs.all_specs():
        assert site._e(spec.teaches) in page
    assert "No results in" not in page  # multiclass has results, so no banner


def test_index_shows_the_latest_comparison_row_from_the_json_records(built):
    page = _html(built, "index.html")
    entry = re.search(r'<li id="multiclass">(.*?)</li>', page, re.S).group(1)
    recs = records.load(built["results"] / "multiclass" / "torch-cpu-embedded.json") + \
        records.load(built["results"] / "multiclass" / "jax-cpu-embedded.json")
    row = results.comparison_rows(recs, {"multiclass": specs.get("multiclass")})[0]
    (shown,) = _rows(entry)
    assert shown["variant"] == "mlp" and shown["metric"] == row["metric"]
    assert (shown["torch"], shown["jax"], shown["|Δ|"]) == tuple(results.fmt(row[k]) for k in ("torch", "jax", "delta"))
    assert shown["ok"] == results.ok_text(row) == "not judged (--epochs 2)"   # a short run is not judged
    other = re.search(r'<li id="xor">(.*?)</li>', page, re.S).group(1)
    assert "No results yet" in other and "lessons compare xor" in other


def test_index_says_when_there_are_no_results_at_all(tmp_path):
    assert cli.main(["site", "--out", str(tmp_path / "s"), "--results", str(tmp_path / "nothing")]) == 0
    page = (tmp_path / "s" / "index.html").read_text()
    assert "No results in" in page and page.count("No results yet") == len(specs.LESSONS)


def test_lesson_page_pairs_the_twins_in_file_order(built):
    lesson = twins.load("multiclass")
    page = _html(built, "multiclass.html")
    anchors = re.findall(r'<article class="pair" id="(pair-[^"]+)">', page)
    assert anchors == ["pair-docstrings", *(p.anchor for p in lesson.pairs)]
    for pair in lesson.pairs:
        body = _article(page, pair.anchor)
        if pair.torch.source == pair.jax.source:   # shown once (test_a_function_the_same_in_both_is_shown_once)
            continue
        cols = dict(zip(twins.SIDES, re.split(r'<div class="col" data-framework="jax">', body)))
        for fw, col in cols.items():
            seg = pair.side(fw)
            assert 'class="hl"' in col and re.search(r'<span class="(k|kn)">', col)  # highlighted by pygments
            numbers, text = _code_lines(col)
            # the text a reader selects is the file's text, numbered with the file's line numbers
            assert text == seg.source
            assert numbers == list(range(seg.first_line, seg.last_line + 1))


def test_each_hazard_is_a_callout_next_to_the_function_that_applies_its_fix(built):
    page = _html(built, "multiclass.html")
    lesson = twins.load("multiclass")
    placed = {h.name: p for p in lesson.pairs for h in p.hazards}
    assert {"init", "adam_bias_correction"} <= set(placed)
    for name, pair in placed.items():
        body = _article(page, pair.anchor)
        jax_col = body.split('data-framework="jax"', 1)[1]
        assert f'data-hazard="{name}"' in jax_col  # the JAX side calls the fix: the note sits in its column
        assert f"lessons hazards --demo {name}" in body and f'href="hazards.html#hazard-{name}"' in body
    others = [p for p in lesson.pairs if not p.hazards]
    assert others and all("data-hazard" not in _article(page, p.anchor) for p in others)
    # the hazard's own parity plot sits in its callout
    assert 'src="img/multiclass/parity-float32-adam_bias_correction.png"' in _article(page, placed["adam_bias_correction"].anchor)


def test_lesson_page_has_course_settings_with_reasons_results_and_plots(built):
    spec = specs.get("multiclass")
    page = _html(built, "multiclass.html")
    settings = re.search(r'<section id="settings">(.*?)</section>', page, re.S).group(1)
    rows = {r["setting"]: r for r in _rows(settings)}
    for key, why in spec.deviations.items():
        assert rows[key]["why ours differs"] == why  # each deviation with its reason, in its setting's row
    for key, value in spec.course.items():
        if key not in ("note", "published"):
            assert rows[key]["course"] == str(value)  # the course's setting beside ours
    assert "The course: <a href=\"course.html#note-000\">note 000</a>, section 5" in settings
    res = re.search(r'<section id="results">(.*?)</section>', page, re.S).group(1)
    assert "torch-cpu-embedded.json" in res and "<th scope=\"col\">|Δ|</th>" in res
    for png in ("history.png", "parity-float32.png"):
        assert f'src="img/multiclass/{png}"' in res
        assert (built["site"] / "img" / "multiclass" / png).read_bytes() == \
            (built["results"] / "multiclass" / png).read_bytes()
    xor = re.search(r'<section id="results">(.*?)</section>', _html(built, "xor.html"), re.S).group(1)
    assert "No results for xor" in xor and "No parity plot yet" in xor


def _article_any(page: str, anchor: str) -> str:
    m = re.search(rf'<article class="pair[^"]*" id="{re.escape(anchor)}">(.*?)</article>', page, re.S)
    assert m, anchor
    return m.group(1)


@pytest.mark.parametrize("lesson", ["xor", "datasets", "poly_fit"])
def test_a_function_the_same_in_both_is_shown_once(built, lesson):
    page = _html(built, f"{lesson}.html")
    same = [p for p in twins.load(lesson).pairs if p.torch and p.jax and p.torch.source == p.jax.source]
    assert same, f"{lesson} has no function the same in both"
    for pair in same:
        body = _article_any(page, pair.anchor)
        assert "the same in both" in body and body.count("<pre") == 1
        assert 'data-framework="both"' in body and 'data-framework="torch"' not in body
        assert _code_lines(body)[1] == pair.torch.source


def test_lines_that_differ_between_the_twins_are_marked(built):
    lesson = twins.load("multiclass")
    page = _html(built, "multiclass.html")
    pair = next(p for p in lesson.pairs if p.name == "train")
    changed = twins.changed_lines(pair)
    assert changed["torch"] and changed["jax"]   # the loops differ in a few lines, not all
    assert len(changed["torch"]) < len(pair.torch.source.split("\n"))
    body = _article(page, pair.anchor)
    for fw, col in zip(twins.SIDES, body.split('data-framework="jax"')):
        pre = re.search(r"<pre[^>]*>(.*?)</pre>", col, re.S).group(1)
        marked = [i for i, part in enumerate(pre.split('<span class="line')[1:]) if part.startswith(' chg"')]
        assert marked == sorted(changed[fw]), fw
    lines = pair.torch.source.split("\n")
    assert all(lines[i].strip() for i in changed["torch"])   # a blank line is never marked


def test_the_course_page_says_what_the_course_is_with_its_words_in_english(built):
    from shared.specs import course

    page = _html(built, "course.html")
    assert "five course notes" in page and "Korean" in page
    for note in course.NOTES:
        section = re.search(rf'<section id="note-{note.id}">(.*?)</section>', page, re.S).group(1)
        for q in note.quotes:
            assert f'<blockquote lang="ko">{site._e(q.original)}</blockquote>' in section
            assert f'<blockquote lang="en">{site._e(q.english)}</blockquote>' in section
        for name in note.lessons:
            assert f'href="{name}.html"' in section
    rows = _rows(re.search(r'<section id="note-003">(.*?)</section>', page, re.S).group(1))
    assert {"lesson": "xor", "setting": "lr", "the course": "1", "ours": "1"} in rows
    assert 'href="course.html"' in _html(built, "index.html") and 'href="course.html"' in _html(built, "xor.html")


def test_no_dict_repr_on_any_page(built):
    for page in built["site"].glob("*.html"):
        text = html.unescape(page.read_text())
        assert "{'" not in text and '{"' not in text, page.name


def test_every_parity_plot_of_a_lesson_is_on_its_page(built, tmp_path):
    """A hazard's parity plot shows in the Parity section too, and a page with only that one does not say
    there is no parity plot."""
    res = tmp_path / "results"
    shutil.copytree(built["results"], res)
    (res / "multiclass" / "parity-float32.png").unlink()
    out = tmp_path / "site"
    assert cli.main(["site", "--out", str(out), "--results", str(res)]) == 0
    parity_section = (out / "multiclass.html").read_text().split("<h3>Parity</h3>", 1)[1]
    assert 'src="img/multiclass/parity-float32-adam_bias_correction.png"' in parity_section
    assert "No parity plot yet" not in parity_section and "without the adam_bias_correction fix" in parity_section
    full = _html(built, "multiclass.html").split("<h3>Parity</h3>", 1)[1]
    assert full.index("parity-float32.png") < full.index("parity-float32-adam_bias_correction.png")   # plain first


def test_plot_captions_say_the_frameworks_start_apart(built):
    res = re.search(r'<section id="results">(.*?)</section>', _html(built, "multiclass.html"), re.S).group(1)
    caption = re.search(r'<figcaption>(history\.png:.*?)</figcaption>', res, re.S).group(1)
    assert "different random weights" in caption and "lessons parity multiclass" in caption


def test_pages_link_previous_next_and_their_notebooks(built):
    order = specs.LESSONS
    for i, name in enumerate(order):
        page = _html(built, f"{name}.html")
        prev = re.findall(r'rel="prev" href="([^"]+)"', page)
        nxt = re.findall(r'rel="next" href="([^"]+)"', page)
        assert prev[:1] == ([f"{order[i - 1]}.html"] if i else [])
        assert nxt[:1] == ([f"{order[i + 1]}.html"] if i + 1 < len(order) else [])
    page = _html(built, "multiclass.html")
    for nb in ("multiclass.ipynb", "multiclass-torch.ipynb", "multiclass-jax.ipynb"):
        assert f'href="notebooks/{nb}"' in page
        assert json.loads((built["site"] / "notebooks" / nb).read_text())["nbformat"] == 4


def test_site_is_offline_and_every_internal_link_resolves(built):
    out = built["site"]
    pages = sorted(out.glob("*.html"))
    assert len(pages) == len(specs.LESSONS) + 4  # the lessons, the index, JAX for PyTorch users, the course, hazards
    css = (out / "style.css").read_text()
    assert "@import" not in css and "url(" not in css and ".hl .k" in css  # pygments' colours, local
    for page in pages:
        text = page.read_text()
        assert "<script" not in text
        for ref in re.findall(r'(?:href|src)="([^"]*)"', text):
            assert not re.match(r"^[a-z]+://|^//", ref), (page.name, ref)  # no CDN, no server
            path, _, frag = ref.partition("#")
            target = (page.parent / urllib.parse.unquote(path)) if path else page
            assert target.is_file(), (page.name, ref)
            if frag and target.suffix == ".html":
                assert f'id="{frag}"' in target.read_text(), (page.name, ref)


def test_jax_for_pytorch_users_links_each_concept_to_the_lines_that_show_it(built):
    """Every concept row links, for each framework, to the lesson page's line whose code holds the
    idiom (found in the file by concepts.locate); the index and every page's navigation link to it."""
    page = _html(built, concepts.PAGE)
    rows = re.findall(r"<tr><td data-label=\"concept\">(.*?)</tr>", page, re.S)
    assert len(rows) == len(concepts.CONCEPTS) >= 7
    for concept, row in zip(concepts.CONCEPTS, rows):
        links = re.findall(r'<a href="([a-z_]+)\.html#((torch|jax)-L(\d+))">([^<]+)</a>', row)
        assert [fw for _, _, fw, _, _ in links] == ["torch", "jax"], concept.name
        for (lesson, anchor, fw, line, label), where in zip(links, (concept.torch_at, concept.jax_at)):
            assert (lesson, label) == (where.lesson, f"{fw}_impl/{lesson}.py:{line}")
            target = _html(built, f"{lesson}.html")
            m = re.search(rf'<span class="line(?: chg)?" id="{anchor}"[^>]*><span class="lno">{line}</span>(.*?)</span>(?=<span '
                          rf'class="line|</pre>)', target, re.S)
            assert m, (concept.name, anchor)
            assert where.code in html.unescape(re.sub(r"<[^>]+>", "", m.group(1))), (concept.name, where.code)
            file_line = (twins.ROOT / f"{fw}_impl" / f"{lesson}.py").read_text().splitlines()[int(line) - 1]
            assert where.code in file_line
    for name in ("index.html", "multiclass.html", concepts.PAGE):
        assert f'href="{concepts.PAGE}"' in _html(built, name)
    assert "lessons bench compiled_loop" in page  # no bench.json in the results: the page says how to get one


def test_concepts_page_shows_the_forms_speeds_from_bench_json(tmp_path):
    rows = [{"lesson": "compiled_loop", "variant": v, "framework": "jax", "compile_s": 0.5, "train_s": t,
             "steps": 1200, "samples": 120000, "floor_s": 0.01, "speedup": 2.0 / t} for v, t in
            (("as_written", 2.0), ("resident", 0.4), ("compiled", 0.1))]
    (tmp_path / "bench.json").write_text(json.dumps({"forms": rows}))
    body = concepts.body(tmp_path)
    cells = [html.unescape(c) for c in re.findall(r'<td[^>]*>([^<]*)</td>', body.split('id="speed"')[1])]
    assert cells == ["jax", "as_written", "600", "0.50", "1.0", "jax", "resident", "3,000", "0.50", "5.0",
                     "jax", "compiled", "12,000", "0.50", "20.0"]


def test_readme_concept_table_is_the_generated_one():
    """README.md's "JAX for PyTorch users" table is concepts.markdown(): its links follow the files."""
    readme = (twins.ROOT / "README.md").read_text()
    table = readme.split("<!-- concepts -->\n", 1)[1].split("\n<!-- /concepts -->", 1)[0]
    assert table == concepts.markdown(), "regenerate: python -c 'from shared.views import concepts; " \
                                         "print(concepts.markdown())'"


def test_hazards_page_has_every_hazard_with_its_fix_demo_numbers_and_code(built):
    """hazards.html: each hazard's section says what differs, the fix, where its demo bites and the command,
    the lessons that meet it; a measured demo (conv_padding here) shows its numbers, verdict and plot;
    the others say how to measure them; each demo's two functions side by side."""
    from shared.tools import hazards

    page = _html(built, "hazards.html")
    demos = twins.load("hazards")
    for h in hazards.HAZARDS:
        section = re.search(rf'<section class="hazard-demo" id="hazard-{h.name}">(.*?)</section>', page, re.S).group(1)
        assert site._e(h.differs) in section and site._e(h.fix) in section and site._e(h.demo) in section
        assert f"<code>lessons hazards --demo {h.name}" in section
        for lesson in h.lessons:
            assert f'href="{lesson}.html"' in section
        pair = next(p for p in demos.pairs if p.name == h.name)
        assert f'id="{pair.anchor}"' in section
        if h.name == "conv_padding":
            rows = _rows(section)
            assert [r["run"] for r in rows[:4]] == ["torch", "JAX with as_torch.conv_padding", "JAX without it (stock)",
                                                    "torch, inputs nudged 1 ulp"]
            assert float(rows[2]["x control"]) > 10 and float(rows[1]["x control"]) <= 10
            assert "<strong>Verdict</strong> (cpu): bites: without the fix" in section
            assert 'src="img/hazards/conv_padding.png"' in section
            assert (built["site"] / "img" / "hazards" / "conv_padding.png").stat().st_size > 5_000
        else:
            assert "Not measured in the results dir yet" in section
    for pair in demos.pairs:  # the helpers too: the page holds both files whole
        assert page.count(f'id="{pair.anchor}"') == 1
    assert 'href="hazards.html"' in _html(built, "index.html") and 'href="hazards.html"' in _html(built, "cnn.html")


def test_site_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    afile = tmp_path / "f"
    afile.write_text("x")
    assert cli.main(["site", "--out", str(afile)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lessons: error:")


# -- in a real browser -----------------------------------------------------------------------------

class DevTools:
    """Just enough of the Chrome DevTools protocol over a websocket (RFC 6455, client side)."""

    def __init__(self, binary: str, workdir: Path):
        profile = workdir / "profile"
        profile.mkdir(parents=True, exist_ok=True)
        port_file = profile / "DevToolsActivePort"
        port_file.unlink(missing_ok=True)  # a stale one from an earlier run would point nowhere
        self.log = open(workdir / "chromium.log", "wb")
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--mute-audio",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "--remote-allow-origins=*",
             "about:blank"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        targets = None
        while targets is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                self.log.close()
                raise RuntimeError(f"chromium did not start; see {workdir / 'chromium.log'}")
            try:
                self.port = int(port_file.read_text().split()[0])
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=30))
            except (OSError, ValueError, IndexError):
                time.sleep(0.1)
        page = next(t for t in targets if t["type"] == "page")
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        path = urllib.parse.urlparse(page["webSocketDebuggerUrl"]).path
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv_some()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head
        self.next_id, self.events = 0, []

    def _recv_some(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("chromium closed the websocket")
        return chunk

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            self.buf += self._recv_some()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        head = bytes([0x80 | opcode])
        head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else \
            bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def _message(self) -> dict:
        data = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = b0 & 0x0F
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise ConnectionError("chromium closed the websocket")
            if opcode in (0x0, 0x1, 0x2):
                data += payload
                if b0 & 0x80:
                    return json.loads(data)

    def call(self, method: str, **params):
        self.next_id += 1
        my_id = self.next_id
        self._send_frame(0x1, json.dumps({"id": my_id, "method": method, "params": params}).encode())
        while True:
            msg = self._message()
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, event: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, e in enumerate(self.events):
                if e["method"] == event:
                    return self.events.pop(i)
            msg = self._message()
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(event)

    def open(self, url: str, width: int, height: int, mobile: bool) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                  mobile=mobile)
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        self.evaluate("Promise.all([...document.images].map(i => i.complete ? 0 : "
                      "new Promise(r => { i.onload = i.onerror = r; })))")

    def evaluate(self, expression: str):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"])
        return r["result"].get("value")

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 16000), "scale": 1})
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", **params)["data"]))
        return path

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (OSError, ConnectionError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.sock.close()
        self.log.close()


MEASURE = """(() => {
  const box = e => { const r = e.getBoundingClientRect();
                     return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height}; };
  const shown = e => { const s = getComputedStyle(e); return s.display !== 'none' && s.visibility !== 'hidden'; };
  const pairs = [...document.querySelectorAll('.pair:not(.same) > .cols')].map(c => {
    const [t, j] = ['torch', 'jax'].map(fw => c.querySelector(`:scope > [data-framework=${fw}]`));
    return {id: c.parentElement.id, torch: box(t), jax: box(j), shown: shown(t) && shown(j)};
  });
  const same = [...document.querySelectorAll('.pair.same > .cols')].map(c => ({
    id: c.parentElement.id, blocks: c.querySelectorAll('pre').length,
    cols: c.querySelectorAll(':scope > .col').length, box: box(c.querySelector(':scope > .col'))}));
  return {scrollWidth: document.scrollingElement.scrollWidth, innerWidth: window.innerWidth,
          images: [...document.images].map(i => ({src: i.getAttribute('src'), w: i.naturalWidth,
                                                  shown: shown(i) && i.getBoundingClientRect().width > 0,
                                                  rendered: i.getBoundingClientRect().width,
                                                  plot: !!i.closest('.plots')})),
          same,
          links: [...document.querySelectorAll('a[href]')].map(a => ({href: a.getAttribute('href'), url: a.href})),
          pairs};
})()"""


SELECTED = """(() => {
  const out = {};
  for (const pair of document.querySelectorAll('article.pair')) {
    for (const fw of ['torch', 'jax', 'both']) {
      const pre = pair.querySelector(`[data-framework=${fw}] pre`);
      if (!pre) continue;
      const sel = getSelection();
      sel.removeAllRanges();
      sel.selectAllChildren(pre);
      out[`${pair.id} ${fw}`] = sel.toString();
    }
  }
  getSelection().removeAllRanges();
  return out;
})()"""


def test_every_page_in_headless_chromium_at_1280_and_390(built):
    binary = chromium()
    if binary is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; .ci/run installs it as root)")
    shots = built["root"] / "screenshots"
    shots.mkdir()
    browser = DevTools(binary, built["root"] / "browser")
    failures = []
    try:
        browser.call("Page.enable")
        pages = ["index.html", concepts.PAGE, "course.html", *(f"{n}.html" for n in specs.LESSONS), "hazards.html"]
        for size, (w, h) in SIZES.items():
            for name in pages:
                path = built["site"] / name
                browser.open(path.as_uri(), w, h, mobile=size == "phone")
                m = browser.evaluate(MEASURE)
                browser.screenshot(shots / f"{path.stem}-{w}.png")
                where = f"{name} at {w}x{h}"
                if m["innerWidth"] != w:
                    failures.append(f"{where}: the viewport is {m['innerWidth']} wide")
                if m["scrollWidth"] > m["innerWidth"]:
                    failures.append(f"{where}: the page scrolls sideways ({m['scrollWidth']} > {m['innerWidth']})")
                failures += [f"{where}: image {i['src']} did not load" for i in m["images"] if i["w"] <= 0]
                if size == "phone":   # a plot is as wide as the phone, and has the pixels for it
                    failures += [f"{where}: plot {i['src']} is {i['rendered']}px wide on a {w}px screen"
                                 for i in m["images"] if i["plot"] and i["rendered"] < w]
                    failures += [f"{where}: image {i['src']} has {i['w']}px for a {w}px screen"
                                 for i in m["images"] if i["shown"] and i["w"] < w]
                for p in m["same"]:   # the same in both: one block, the whole width
                    if p["blocks"] != 1 or p["cols"] != 1 or p["box"]["width"] < (w - 60 if w < 900 else 800):
                        failures.append(f"{where}: {p['id']} (the same in both) is not one full-width block: {p}")
                for link in m["links"]:
                    url = urllib.parse.urlparse(link["url"])
                    if url.scheme != "file":
                        failures.append(f"{where}: link {link['href']} leaves the site")
                    elif not Path(urllib.parse.unquote(url.path)).is_file():
                        failures.append(f"{where}: link {link['href']} does not resolve")
                if name in ("index.html", concepts.PAGE, "course.html"):
                    continue
                # what a reader selects and copies from a code block is the file's code, to the character
                lesson = twins.load(path.stem)
                selected = browser.evaluate(SELECTED)
                for pair in lesson.pairs:
                    same = pair.torch is not None and pair.jax is not None and pair.torch.source == pair.jax.source
                    for fw in ("both",) if same else twins.SIDES:
                        seg = pair.torch if same else pair.side(fw)
                        if seg is not None and selected.get(f"{pair.anchor} {fw}") != seg.source:
                            failures.append(f"{where}: selecting {fw}'s {pair.name} does not give its source")
                if not m["pairs"]:
                    failures.append(f"{where}: no code pairs")
                if name == "xor.html" and not m["same"]:
                    failures.append(f"{where}: load_data, the same in both, is not shown once")
                for p in m["pairs"]:
                    t, j = p["torch"], p["jax"]
                    ok = p["shown"] and min(t["width"], j["width"], t["height"], j["height"]) > 0 \
                        and t["left"] >= 0 and j["right"] <= w + 0.5 and t["right"] <= w + 0.5
                    if w == 1280:
                        ok = ok and t["right"] <= j["left"] + 0.5 and abs(t["top"] - j["top"]) < 1 \
                            and min(t["width"], j["width"]) > 400
                    else:
                        ok = ok and j["top"] >= t["bottom"] - 0.5 and abs(t["left"] - j["left"]) < 1
                    if not ok:
                        failures.append(f"{where}: {p['id']}: columns {'not side by side' if w == 1280 else 'not stacked'}"
                                        f" or not fully visible ({t}, {j})")
        assert len(list(shots.glob("*.png"))) == 2 * len(pages)
    finally:
        browser.close()
    assert not failures, "\n".join(failures[:30])
