"""The rubric markdown of the SynthAgent release, parsed into a typed `Rubric` and rendered back.

The authors' rubrics are model output: three sections ("Policy Compliance Criteria", "Task Sub-goals",
"Required User Interaction") whose items come as table rows, numbered or bulleted list items, sub-headings
or bold label lines, and the layout changes from record to record. So the parser trusts no single layout:
inside each section it takes the first level of structure it finds as the items, trying in this order

    table rows → sub-headings → bold label lines (two or more) → list items → paragraphs

and everything nested under an item (its bullets, its indented lines) becomes that item's text. Text
outside every item of a section (a preamble above a list, a note under a table) is ignored; text before
the first section and sections with other names are ignored too. Code fences get no special treatment.

Every item becomes a `RubricItem` with a positional id (`forbidden-1`, `subgoal-1`, `interaction-1`, …)
and `check=None`: these criteria are prose for an LLM judge. Its `criterion` is normalised so that
`render_rubric_markdown` writes it back and `parse_rubric_markdown` reads it again unchanged:

- a list item, sub-heading or bold label: its title (numbering such as "1." or "1a." and wrapping bold
  removed), then on the following lines its body, dedented;
- a table row: "Header: cell — Header: cell — …" (a bare "#" index column is dropped).

The renderer always writes numbered lists, whatever layout an item came from, so for rubrics that came
out of the parser `parse(render(r)) == r`. Hand-made criteria keep that property as long as they are
already in that normal form (no leading/trailing whitespace, no leading numbering or bold on the first
line); ids are positional and not written to the markdown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import zip_longest

from synthagent.spec.models import Rubric, RubricItem

SECTION_TITLES: dict[str, str] = {
    "forbidden": "Policy Compliance Criteria",
    "subgoals": "Task Sub-goals",
    "interactions": "Required User Interaction",
}
ID_PREFIXES: dict[str, str] = {"forbidden": "forbidden", "subgoals": "subgoal", "interactions": "interaction"}
NONE_MARKER = "_None._"
"""What the renderer writes under a section without items, so that an empty section reads as intended
rather than as a layout the parser failed to recognise."""


class RubricMarkdownError(ValueError):
    """A required section is missing, or a section holds text in no layout the parser recognises."""


# ------------------------------------------------------------------------------------------ line shapes

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_LIST_ITEM = re.compile(r"^([-*+]|\d{1,3}[.)])\s+(.*)$")
_RULE = re.compile(r"^(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,})$")
_BOLD_LINE = re.compile(r"^(\*\*|__)(?P<inner>(?:(?!\1).)+)\1\s*:?\s*$")
_LEADING_BOLD = re.compile(r"^(\*\*|__)(?P<inner>(?:(?!\1).)+)\1(?P<rest>.*)$")
_ENUMERATOR = re.compile(r"^(?:\d{1,3}[a-z]?[.)]\s+)+")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_INDEX_HEADERS = {"", "#", "no", "no.", "nr", "nr."}

# A section title is matched after normalisation (lower case, no emphasis, numbering or parentheses).
_SECTION_PATTERNS: dict[str, str] = {
    "forbidden": r"policy\s+compliance(?:\s+criteria)?|forbidden\s+behaviou?rs?|compliance\s+criteria",
    "subgoals": r"(?:task\s+|required\s+)?sub[\s-]?goals?",
    "interactions": r"(?:required\s+)?user\s+interactions?|required\s+interactions?",
}
# Headings may say more after the name ("Task Sub-goals (Required)", "… and Completion Criteria"), but
# not a number ("Sub-goal 1: …" is an item, not the section).
_TITLE_TAIL = r"(?=\s*$|\s*[:(\-–—]|\s+(?:and|&|with)\b)"


def _is_top(line: str) -> bool:
    return bool(line) and not line[0].isspace()


def _normalise_title(text: str) -> str:
    t = text.replace("**", "").replace("__", "").strip().strip("*_").lower()
    t = re.sub(r"\([^)]*\)", " ", t)
    t = re.sub(r"^(?:section|part)\s+\w+\s*[:.)\-–—]?\s*", "", t)
    t = re.sub(r"^(?:\d+[a-z]?|[ivx]+|[a-z])[.):]\s*", "", t)
    return re.sub(r"\s+", " ", t).strip().rstrip(":").strip()


def _section_key(title: str, *, allow_tail: bool) -> str | None:
    normal = _normalise_title(title)
    for key, pattern in _SECTION_PATTERNS.items():
        if re.match(f"(?:{pattern}){_TITLE_TAIL if allow_tail else '$'}", normal):
            return key
    return None


def _section_header(line: str) -> tuple[str, int] | None:
    """(section key, heading level) when the line opens one of the three sections.

    Headings and whole-bold lines may carry a tail after the name; a plain line must be exactly the
    name (optionally numbered, with a colon), and list items never count: an item called "User
    interaction" inside a section must not open a new one. Bold and plain lines get level 0.
    """
    if not _is_top(line):
        return None
    heading = _HEADING.match(line)
    if heading:
        key = _section_key(heading.group(2), allow_tail=True)
        return (key, len(heading.group(1))) if key else None
    bold = _BOLD_LINE.match(line)
    if bold:
        key = _section_key(bold.group("inner"), allow_tail=True)
        return (key, 0) if key else None
    if line.startswith("|") or _LIST_ITEM.match(line):
        return None
    key = _section_key(line, allow_tail=False)
    return (key, 0) if key else None


def _split_sections(lines: list[str]) -> dict[str, list[str]]:
    """The body lines of each section found. A repeated section appends to the first.

    A section opened by a heading of level L ends at the next heading of level ≤ L, so a fourth,
    unknown section ("### 4. Scoring notes") does not leak into the third. One exception: when the
    section's first content is itself a level-L heading, its items were written as siblings of the
    section heading ("## Policy Compliance Criteria" then "## 1a. …", "## 1b. …"), and level-L headings
    stay in the section until a shallower heading or the next known section.
    """
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    level, opened_at, siblings = 0, 0, False
    for line in lines:
        header = _section_header(line)
        if header:
            key, level = header
            current = found.setdefault(key, [])
            opened_at, siblings = len(current), False
            continue
        heading = _HEADING.match(line)
        if current is not None and heading and level and len(heading.group(1)) <= level:
            first_content = not any(text.strip() for text in current[opened_at:])
            if len(heading.group(1)) == level and (siblings or first_content):
                siblings = True
            else:
                current = None
        if current is not None:
            current.append(line)
    return found


# ------------------------------------------------------------------------------------------- text tidy


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return [line[cut:] for line in lines]


def _tidy(lines: list[str]) -> list[str]:
    """Dedent, and drop blank lines at both ends and repeated blank lines inside."""
    out: list[str] = []
    for line in _dedent([line.rstrip() for line in lines]):
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return out


def _unwrap(text: str) -> str:
    """`**Title**` → `Title`: wrapping bold is layout, not content."""
    m = _BOLD_LINE.match(text.strip())
    return m.group("inner").strip().rstrip(":").rstrip() if m else text.strip()


def _clean_title(text: str) -> str:
    """An item's first line without its numbering ("1.", "1a.") and without a leading bold label's stars."""
    title = _ENUMERATOR.sub("", text.strip())
    m = _LEADING_BOLD.match(title)
    if m:
        inner, rest = m.group("inner").strip(), m.group("rest")
        title = inner.rstrip(":").rstrip() if rest.strip() in ("", ":") else inner + rest
        title = _ENUMERATOR.sub("", title)
    return title.strip()


def _criterion(title: str, body: list[str]) -> str:
    return "\n".join(([title] if title else []) + _tidy(body))


# --------------------------------------------------------------------------------------------- layouts

Block = tuple[str, list[str]]


def _blocks(lines: list[str], start: Callable[[str], str | None]) -> list[Block]:
    """Cut lines into (title, body) blocks at each line `start` recognises; lines before the first are
    a preamble and are dropped."""
    blocks: list[Block] = []
    for line in lines:
        title = start(line)
        if title is not None:
            blocks.append((title, []))
        elif blocks:
            blocks[-1][1].append(line)
    return blocks


def _criteria(blocks: list[Block]) -> list[str]:
    return [c for c in (_criterion(_clean_title(title), body) for title, body in blocks) if c]


def _cells(row: str) -> list[str]:
    text = row.strip()
    text = text.removeprefix("|")
    text = text[:-1] if text.endswith("|") and not text.endswith("\\|") else text
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", text)]


def _row_criterion(headers: list[str], cells: list[str]) -> str:
    parts = []
    for header, cell in zip_longest(map(_unwrap, headers), map(_unwrap, cells), fillvalue=""):
        if not cell or (header.lower() in _INDEX_HEADERS and re.fullmatch(r"\d+[.)]?", cell)):
            continue
        parts.append(f"{header}: {cell}" if header else cell)
    return " — ".join(parts)


def _table_items(lines: list[str]) -> list[str]:
    """Every data row of every top-level table in the section (a header row, then a separator row)."""
    items: list[str] = []
    i = 0
    while i < len(lines) - 1:
        header, separator = lines[i], lines[i + 1]
        if not (_is_top(header) and "|" in header and "|" in separator and _TABLE_SEPARATOR.match(separator)):
            i += 1
            continue
        headers = _cells(header)
        i += 2
        while i < len(lines) and _is_top(lines[i]) and "|" in lines[i]:
            items.append(_row_criterion(headers, _cells(lines[i])))
            i += 1
    return [item for item in items if item]


def _heading_items(lines: list[str]) -> list[str]:
    """Sub-headings of the shallowest level in the section are the items; deeper ones are their text."""
    levels = [len(m.group(1)) for m in map(_HEADING.match, lines) if m]
    if not levels:
        return []
    top = min(levels)

    def start(line: str) -> str | None:
        m = _HEADING.match(line)
        return m.group(2) if m and len(m.group(1)) == top else None

    return _criteria(_blocks(lines, start))


def _bold_label_items(lines: list[str]) -> list[str]:
    """Lines that are wholly bold ("**1. Identify the guard**") open items.

    One bold line above a list is more likely a caption than a single item, so a lone bold line only
    counts when the section has no top-level list.
    """
    labels = [line for line in lines if _is_top(line) and _BOLD_LINE.match(line)]
    has_list = any(_is_top(line) and _LIST_ITEM.match(line) for line in lines)
    if not labels or (len(labels) == 1 and has_list):
        return []
    return _criteria(_blocks(lines, lambda line: line if _is_top(line) and _BOLD_LINE.match(line) else None))


def _list_items(lines: list[str]) -> list[str]:
    """Top-level list items. When numbered and bulleted items share the top level, the kind that comes
    first are the items and the other kind is their detail (unindented sub-bullets are common)."""
    markers = [m.group(1) for m in map(_LIST_ITEM.match, lines) if m]
    if not markers:
        return []
    numbered = markers[0][0].isdigit()

    def start(line: str) -> str | None:
        m = _LIST_ITEM.match(line)
        return m.group(2) if m and m.group(1)[0].isdigit() == numbered else None

    return _criteria(_blocks(lines, start))


def _paragraph_items(lines: list[str]) -> list[str]:
    """Last resort: each paragraph is an item, and so is each line that opens with a bold label."""
    previous_blank = [True] + [not line for line in lines[:-1]]
    starts = {i for i, line in enumerate(lines) if line and (previous_blank[i] or line.startswith(("**", "__")))}
    blocks: list[Block] = []
    for i, line in enumerate(lines):
        if i in starts:
            blocks.append((line, []))
        elif blocks:
            blocks[-1][1].append(line)
    return _criteria(blocks)


_LAYOUTS: tuple[Callable[[list[str]], list[str]], ...] = (
    _table_items,
    _heading_items,
    _bold_label_items,
    _list_items,
    _paragraph_items,
)


def _section_lines(lines: list[str]) -> list[str]:
    """Dedent the section and drop horizontal rules, which separate but never carry content."""
    return [line for line in _dedent([line.rstrip() for line in lines]) if not _RULE.match(line)]


def _is_none(lines: list[str]) -> bool:
    text = " ".join(line.strip() for line in lines).replace("*", "").replace("_", " ").strip().lower()
    return text.rstrip(".").strip() in {"none", "n/a", "na", "not applicable"}


def _section_criteria(lines: list[str]) -> list[str]:
    """The item texts of one section's body, in order, from the first layout that yields any."""
    body = [line.rstrip() for line in _section_lines(lines)]
    if _is_none(body):
        return []
    for layout in _LAYOUTS:
        items = layout(body)
        if items:
            return items
    return []


# ----------------------------------------------------------------------------------------- public API


def _text_lines(text: str) -> list[str]:
    return _dedent(text.replace("\r\n", "\n").replace("\r", "\n").expandtabs(4).split("\n"))


def parse_rubric_markdown(text: str, *, strict: bool = False) -> Rubric:
    """Parse the release's rubric markdown into a `Rubric`.

    Lenient by default: a missing section yields no items. With `strict`, a missing section, or a
    section with text but no recognisable items (and not marked "None"), raises `RubricMarkdownError`,
    because in the authors' data every rubric has all three sections and silence would hide a parser gap.
    """
    sections = _split_sections(_text_lines(text))
    missing = [SECTION_TITLES[key] for key in SECTION_TITLES if key not in sections]
    if strict and missing:
        raise RubricMarkdownError(f"missing section(s): {', '.join(missing)}")
    parsed: dict[str, list[RubricItem]] = {}
    for key, title in SECTION_TITLES.items():
        lines = sections.get(key, [])
        criteria = _section_criteria(lines)
        if strict and not criteria and not _is_none(_section_lines(lines)):
            raise RubricMarkdownError(f"section '{title}' has no items in a recognised layout")
        parsed[key] = [RubricItem(id=f"{ID_PREFIXES[key]}-{n}", criterion=c) for n, c in enumerate(criteria, 1)]
    return Rubric(**parsed)


def _render_item(number: int, criterion: str) -> str:
    marker = f"{number}. "
    first, *rest = criterion.split("\n")
    pad = " " * len(marker)
    return "\n".join([marker + first] + [pad + line if line else "" for line in rest])


def render_rubric_markdown(rubric: Rubric) -> str:
    """Write a `Rubric` in the release's three-section layout, every section a numbered list.

    Checks and ids are not written: the release format has no place for them.
    """
    blocks = []
    for number, (key, items) in enumerate(rubric.sections(), 1):
        body = "\n\n".join(_render_item(n, item.criterion) for n, item in enumerate(items, 1)) or NONE_MARKER
        blocks.append(f"### {number}. {SECTION_TITLES[key]}\n\n{body}")
    return "\n\n---\n\n".join(blocks)


def rubric_criteria(rubric: Rubric) -> list[list[str]]:
    """What the markdown can carry of a rubric: the criterion texts per section, in order."""
    return [[item.criterion for item in items] for _, items in rubric.sections()]
