"""README quotes only numbers that a file in docs/ or bench/ holds: every measurement it states is checked
against the file it cites.

The convention README follows (and this checker enforces):

- README is read as blocks: paragraphs, list items (with their continuation lines), table rows and
  blockquote paragraphs. Headings, fenced code blocks and inline code spans are not claims and are skipped.
- A block *cites* the text files (``.md``, ``.json``, ``.jsonl``, ``.txt``, ``.csv``) under ``docs/`` or
  ``bench/`` that it links to, as a relative path (``docs/inspect/report.md``) or as an absolute URL that
  ends in the repository path (``https://github.com/o/r/blob/main/docs/inspect/report.md``). Links to
  figures are not citations.
- A block with no citation of its own inherits: a list item from the item it is nested in, then from the
  paragraph just before the list (the one that introduces it); a table row from the other rows of its table,
  then from the paragraph just before the table; a blockquote from the paragraph just before it. A
  paragraph never inherits: it links its source itself.
- A *measurement* is a number written with a decimal point (0.748), with a unit of time, speed or size
  (25 s, 3 minutes, 250,000 examples/s, 44.7 MB), as a percentage (92.00%) or a ratio (22.7x), or a grouped
  integer that is not a multiple of 1,000 (175,848). Other integers (layer sizes, batch sizes, seeds,
  epochs, data-set sizes such as 50,000, chapter and issue numbers) are not measurements.
- Not measurements either, by rule: a number right after the name of a setting (eta 0.5, lmbda 5.0,
  momentum 0.9), a power of ten written 1eN (the tolerance 1e-10, eta 1e4), a dimension (28x28) and a
  bracketed list of layer sizes ([784, 30, 10]). The few remaining exceptions are in ``NOT_MEASUREMENTS``,
  each with its reason.
- Each measurement must appear in one of the cited files. Formatting is normalised: 1,234 is 1234, 92.1 is
  92.10, 95% is 0.95, and a number README rounds matches the file's unrounded one (0.75 matches 0.748,
  215,000 matches 215,488; the rounding is to the digits README writes).
- A whole number of seconds, minutes or hours (25 s, 3 minutes) must appear in the file as a time too,
  converted between units (3 minutes matches 162 s): small integers occur by accident in any file, so
  matching them by value alone would prove nothing.
"""
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"

CITABLE = (".md", ".json", ".jsonl", ".txt", ".csv")
SOURCE_FOLDERS = ("docs/", "bench/")

# Text in README that holds a number in measurement form that is not a measurement: (exact text, reason).
# The test below fails when an entry no longer occurs in README, so the list cannot rot into a blanket pass.
NOT_MEASUREMENTS = [
    ("Python 3.10+", "a version"),
    ("an error after 5 s", "the scheduler's connection timeout, a setting"),
    ("reads at most 512 MB", "the book-pickle reader's cap, a setting"),
    ("in milliseconds and under 100 MB", "the bound the hostile tests assert, not a measurement"),
    ("a header claiming 2 TB, a 200 MB gzip", "the sizes the hostile inputs claim, inputs of a test"),
    ("scikit-learn's 1,797 8x8 digits", "the size of scikit-learn's digits data set, a fact about another package"),
    ("fail in milliseconds and under 100 MB", "the bound the hostile tests assert, not a measurement"),
]

SETTINGS = r"(?:eta|lmbda|alpha|momentum|learning_rate_init|Python|version|torch==)"
NUMBER = re.compile(
    r"(?<![\w.,/-])"                      # not the tail of a word, a version or another number
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+))?(?P<exp>e[-+]?\d+)?"
    r"(?P<unit>\s?%|x(?![\w])|\s?(?:ms|s|seconds?|minutes?|min|hours?|h|KB|MB|GB|TB|GFLOP/s|examples/s"
    r"|updates/s)(?![\w/]))?"
    r"(?![\w])")
TIME_UNITS = {"ms": 0.001, "s": 1, "second": 1, "seconds": 1, "min": 60, "minute": 60, "minutes": 60, "h": 3600,
              "hour": 3600, "hours": 3600}
DOC_TIME = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?(ms|s|seconds?|minutes?|min|hours?|h)(?![\w/])")
DOC_NUMBER = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(e[-+]?\d+)?(\s?%)?")
LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)\)")


@dataclass
class Block:
    kind: str            # paragraph, item, row, quote
    line: int            # 1-based line in README where the block starts
    text: str
    parent: "Block | None" = None   # where an uncited block inherits its citation from
    siblings: list = field(default_factory=list)  # for table rows: the whole table


@dataclass(frozen=True)
class Quoted:
    written: str
    value: float
    decimals: int        # the digits README writes: 2 for 0.75, -3 for 215,000
    percent: bool
    seconds_per_unit: float = 0.0   # for a whole number of a time unit (25 s): the unit in seconds, else 0


def local_path(target):
    """The repository path a link points to, for relative links and absolute URLs of the repository."""
    target = target.split("#")[0]
    m = re.search(r"/(?:blob|tree|raw)/[^/]+/(.+)$", target) or \
        re.search(r"raw\.githubusercontent\.com/[^/]+/[^/]+/[^/]+/(.+)$", target)
    if m:
        target = m.group(1)
    elif re.match(r"\w+://", target):
        return None
    return target.lstrip("./") if target.startswith("./") else target


def citations(text):
    """The docs/ or bench/ text files linked from text (figures are not citations)."""
    paths = []
    for _, target in LINK.findall(text):
        path = local_path(target)
        if path and path.startswith(SOURCE_FOLDERS) and path.endswith(CITABLE):
            paths.append(path)
    return paths


def blocks(markdown):
    """README's claims as blocks, each knowing which block it inherits a citation from."""
    out, current, in_code, lead, table, items = [], None, False, None, None, []
    for n, line in enumerate(markdown.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code, current = not in_code, None
            continue
        if in_code:
            continue
        if not stripped:
            if current is not None and current.kind == "paragraph":
                lead = current
            current, table = None, None
            continue
        if stripped.startswith("#"):
            current, lead, table, items = None, None, None, []
            continue
        if stripped.startswith("|"):
            if re.fullmatch(r"\|[\s|:-]+\|", stripped):
                continue
            if table is None:
                table = []
                lead = current if current is not None and current.kind == "paragraph" else lead
            block = Block("row", n, stripped, parent=lead, siblings=table)
            table.append(block)
            out.append(block)
            current = block
            continue
        item = re.match(r"(\s*)(?:[-*]|\d+\.)\s+(.*)", line)
        if item:
            indent = len(item.group(1))
            items = [(i, b) for i, b in items if i < indent]
            if current is not None and current.kind == "paragraph" and not items:
                lead = current
            parent = items[-1][1] if items else lead
            block = Block("item", n, item.group(2), parent=parent)
            items.append((indent, block))
            out.append(block)
            current = block
            continue
        if stripped.startswith(">"):
            body = stripped.lstrip(">").strip()
            if current is None or current.kind != "quote":
                quote_lead = lead if current is None else current
                current = Block("quote", n, body, parent=quote_lead)
                out.append(current)
            elif not body:
                current = Block("quote", n, "", parent=current.parent)
                out.append(current)
            else:
                current.text += " " + body
            continue
        if current is not None and current.kind in ("paragraph", "item", "quote"):
            current.text += " " + stripped            # a continuation line
            continue
        if line.startswith(" ") and items:            # an indented paragraph inside a list item
            current = Block("item", n, stripped, parent=items[-1][1])
        else:
            current, items = Block("paragraph", n, stripped), []
        out.append(current)
    return out


def cited_files(block):
    """The files a block cites: its own links, else what it inherits (see the module docstring)."""
    own = citations(block.text)
    if own:
        return own
    if block.kind == "row":
        for row in block.siblings:
            if citations(row.text):
                return citations(row.text)
    if block.kind == "paragraph" or block.parent is None:
        return []
    return cited_files(block.parent)


def prose(text):
    """The text a reader reads as claims: no code spans, links reduced to their text, no exempt text."""
    text = re.sub(r"`[^`]*`", " ", text)
    text = LINK.sub(lambda m: m.group(1), text)
    text = re.sub(r"https?://\S+", " ", text)
    text = re.sub(r"\s+", " ", text)
    for exempt, _ in NOT_MEASUREMENTS:
        text = text.replace(exempt, " ")
    text = re.sub(r"\[\s*\d+(?:\s*,\s*\d+)+\s*\]", " ", text)           # layer sizes [784, 30, 10]
    text = re.sub(r"\b\d+x\d+\b", " ", text)                             # dimensions 28x28
    text = re.sub(rf"\b{SETTINGS}\s*=?\s*\d[\d.e+-]*", " ", text)       # settings: eta 0.5, lmbda=5.0
    return text


def measurements(text):
    """The measurements quoted in a block's text (see the module docstring for what counts)."""
    found = []
    for m in NUMBER.finditer(prose(text)):
        integer, frac, exp, unit = m.group("int"), m.group("frac"), m.group("exp"), m.group("unit")
        if exp and integer == "1" and not frac:
            continue                                                    # 1e-10, 1e4: a tolerance or a setting
        value = float(integer.replace(",", "") + (f".{frac}" if frac else "") + (exp or ""))
        grouped_odd = "," in integer and int(integer.replace(",", "")) % 1000 != 0
        if not (frac or exp or unit or grouped_odd):
            continue
        if frac:
            decimals = len(frac)
        else:  # 215,000 is rounded to thousands; 40 and 1,234 are exact
            decimals = -3 * len(re.search(r"(,000)*$", integer).group(0)) // 4
        time_unit = TIME_UNITS.get((unit or "").strip(), 0.0) if not frac else 0.0
        found.append(Quoted(m.group(0).strip(), value, decimals, bool(unit and "%" in unit), time_unit))
    return found


@dataclass
class Numbers:
    values: set = field(default_factory=set)     # every number in a file (1,234 -> 1234.0; 92.10% -> 92.1)
    seconds: set = field(default_factory=set)    # every time in it, in seconds (2.9 s -> 2.9; 3 minutes -> 180)

    def __ior__(self, other):
        self.values |= other.values
        self.seconds |= other.seconds
        return self


def file_numbers(path):
    """The numbers and the times written in a file."""
    text = Path(path).read_text(errors="replace")
    found = Numbers()
    for integer, frac, exp, _ in DOC_NUMBER.findall(text):
        try:
            found.values.add(float(integer.replace(",", "") + (f".{frac}" if frac else "") + exp))
        except ValueError:
            pass
    found.seconds = {float(v) * TIME_UNITS[u] for v, u in DOC_TIME.findall(text)}
    return found


def matches(quoted, numbers):
    """quoted, as README writes it, is one of the file's numbers rounded to README's digits (a percentage may be a
    fraction in the file, and a fraction a percentage; a whole number of a time unit must be a time there)."""
    tolerance = 0.5 * 10.0 ** -quoted.decimals * (1 + 1e-9) + 1e-12
    if quoted.seconds_per_unit:
        candidates = [v / quoted.seconds_per_unit for v in numbers.seconds]
    else:
        candidates = [c for v in numbers.values for c in (v, v * 100, v / 100)]
    for candidate in candidates:
        if math.isclose(candidate, quoted.value, rel_tol=1e-12) or abs(candidate - quoted.value) <= tolerance:
            return True
    return False


def problems(markdown, root=ROOT):
    """What README quotes without a source: one message per number, naming its line and the files it cites."""
    out, cache = [], {}
    for block in blocks(markdown):
        quoted = measurements(block.text)
        if not quoted:
            continue
        files = cited_files(block)
        where = f"README line {block.line}"
        missing = [f for f in files if not (root / f).is_file()]
        if missing:
            out.append(f"{where}: cites {', '.join(missing)}, which does not exist")
            continue
        if not files:
            out.append(f"{where}: quotes {', '.join(q.written for q in quoted)} without citing a docs/ or bench/ "
                       f"file (link one in the paragraph, list item or table, or in the paragraph before it)")
            continue
        values = Numbers()
        for f in files:
            values |= cache.setdefault(f, file_numbers(root / f))
        for q in quoted:
            if not matches(q, values):
                out.append(f"{where}: {q.written} is in none of {', '.join(files)}")
    return out


# ----------------------------------------------------------------------------- the tests
def test_every_number_readme_quotes_is_in_the_file_it_cites():
    found = problems(README.read_text())
    assert not found, "README quotes numbers its sources do not hold:\n" + "\n".join(found)


def test_every_exemption_is_still_in_readme():
    text = re.sub(r"\s+", " ", README.read_text())
    for exempt, reason in NOT_MEASUREMENTS:
        assert exempt in text, f"{exempt!r} ({reason}) is no longer in README: remove it from NOT_MEASUREMENTS"


def test_a_planted_wrong_number_fails(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "r.md").write_text("median confidence 0.477 on noise, 0.999 on digits; 92.00%\n")
    good = "The net ([report](docs/r.md)) is 0.477 sure on noise and 0.999 on digits, 92.00% accurate.\n"
    assert problems(good, tmp_path) == []
    bad = good.replace("0.477", "0.748")
    assert problems(bad, tmp_path) == ["README line 1: 0.748 is in none of docs/r.md"]


def test_a_planted_wrong_number_in_the_real_readme_fails():
    """Plant, where README quotes a measurement, a number that none of the cited files holds (the quoted one
    with another leading digit): the check must name it."""
    text = README.read_text()
    quoted = [(b, q) for b in blocks(text) for q in measurements(b.text) if cited_files(b)]
    assert len(quoted) > 50, "README quotes its measurements; the checker should find them"
    for block, q in quoted[::7]:  # one in seven, spread over README
        numbers = Numbers()
        for f in cited_files(block):
            numbers |= file_numbers(ROOT / f)
        candidates = [d + q.written[1:] for d in "123456789"] + [d + "3" + q.written[1:] for d in "123456789"]
        planted = next(p for p in candidates if not matches(measurements(p)[0], numbers))
        lines = text.splitlines()
        pattern = re.compile(r"(?<![\d.,])" + re.escape(q.written) + r"(?![\d])")
        n = next((i for i in range(block.line - 1, len(lines)) if pattern.search(lines[i])), None)
        if n is None:
            continue  # written across a line break (2 min 42 s)
        lines[n] = pattern.sub(planted, lines[n], count=1)
        # the first occurrence of q.written from the block on may be another quote of the same digits with a unit
        # after them (1.006x where q is the 1.006 of an interval): the problem then names the planted number with it
        reported = "\n".join(problems("\n".join(lines)))
        assert re.search(r"(?<![\d.])" + re.escape(planted) + r"\S* is in none of", reported), \
            f"{planted} planted for {q.written} on line {n + 1} went unnoticed"


def test_formatting_is_normalised(tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "R.md").write_text("1234 examples/s; accuracy 0.95; 92.10%; 0.748; 215,488; 3.0 s\n")
    text = ("Speed ([R](bench/R.md)): 1,234 examples/s, 95% accurate, 92.1% and 0.75 sure, about 215,000 "
            "examples/s, 3 s.\n")
    assert problems(text, tmp_path) == []
    assert problems(text.replace("0.75", "0.76"), tmp_path) == ["README line 1: 0.76 is in none of bench/R.md"]


def test_a_whole_number_of_seconds_must_be_a_time_in_the_file(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "r.md").write_text("| epochs | 42 |\nCommand: `fastnn study`; one run, 162 s.\n")
    assert problems("It took 162 s, about 3 minutes ([r](docs/r.md)).\n", tmp_path) == []
    assert problems("It took 42 s ([r](docs/r.md)).\n", tmp_path) == ["README line 1: 42 s is in none of docs/r.md"]


def test_an_uncited_number_is_reported():
    found = problems("It takes 25 s.\n\nIt takes about a minute.\n")
    assert len(found) == 1 and found[0].startswith("README line 1: quotes 25 s without citing")


def test_absolute_urls_of_the_repository_are_citations(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "r.md").write_text("0.477\n")
    for url in ("docs/r.md", "./docs/r.md", "https://github.com/owner/fastnn/blob/main/docs/r.md",
                "https://github.com/owner/fastnn/blob/main/docs/r.md#confidence-on-noise"):
        assert problems(f"Sure: 0.477 ([report]({url})).\n", tmp_path) == []
        assert problems(f"Sure: 0.748 ([report]({url})).\n", tmp_path) != []
    assert problems("Sure: 0.477 ([a figure](docs/confidence.png)).\n", tmp_path)[0].endswith(
        "or in the paragraph before it)")


def test_items_rows_and_quotes_inherit_the_paragraph_before_them(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "r.md").write_text("0.477 13.5 92.00% 1.2x\n")
    text = ("From [the report](docs/r.md):\n\n- noise: 0.477\n  - nested: 13.5 s\n\n"
            "| a | b |\n|---|---|\n| x | 92.00% |\n\n> 1.2x faster\n")
    assert problems(text, tmp_path) == []
    # a paragraph does not inherit, and a table after an uncited paragraph cites nothing
    assert len(problems(text + "\nAnd 0.477 again.\n", tmp_path)) == 1
    assert len(problems("Nothing cited here:\n\n| a |\n|---|\n| 0.477 |\n", tmp_path)) == 1


def test_code_settings_sizes_and_plain_integers_are_not_measurements():
    text = ("Run `fastnn train --eta 3.0` on [784, 30, 10] with eta 0.5, lmbda=5.0, 28x28 images, to 1e-10, "
            "batch 20, 50,000 images, 3 seeds, chapter 5.")
    assert measurements(text) == []
    assert [q.written for q in measurements("0.748, 92.1%, 22.7x, 25 s, 3 minutes, 175,848 and 44.7 MB")] == [
        "0.748", "92.1%", "22.7x", "25 s", "3 minutes", "175,848", "44.7 MB"]
