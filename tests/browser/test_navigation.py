"""Finding one's way around the demo case's diagram (131 nodes) in Chromium: the first view at
a readable size on the top goal (or on ?node=), at laptop sizes without sideways scrolling; the
overview in the corner; the argument shown down to a level, a folded node summing up the
statuses below it; the arrow keys following the tree."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from safetycase.models import Link
from safetycase.selectors import latest_assessment

from .pages import log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READABLE_PX = 11  # the smallest statement text a first view may show

# The on-screen size (px) of the statement lines of a drawn node: their font size in diagram
# units times the diagram's scale on screen; the largest of the node's text sizes is that of
# its statement and identifier (the status word and notes are smaller print).
TEXT_PX = """g => Math.max(...Array.from(g.querySelectorAll('text')).map(
    t => parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a))"""


def inside(box, frame) -> bool:
    return (
        box["x"] >= frame["x"] - 1
        and box["y"] >= frame["y"] - 1
        and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1
        and box["y"] + box["height"] <= frame["y"] + frame["height"] + 1
    )


def supported_by(case) -> dict[str, list[str]]:
    """Each node's supported_by children, by identifier."""
    children: dict[str, list[str]] = {}
    for source, target in (
        Link.objects.filter(case=case, type="supported_by")
        .values_list("source__identifier", "target__identifier")
        .order_by("source__identifier", "target__identifier")
    ):
        children.setdefault(source, []).append(target)
    return children


def top_goal(case) -> str:
    """The goal nothing supports and nothing has as its context (the demo has one)."""
    below = set(
        Link.objects.filter(case=case, type__in=("supported_by", "in_context_of")).values_list(
            "target__identifier", flat=True
        )
    )
    roots = set(case.nodes.filter(type="goal").values_list("identifier", flat=True)) - below
    assert len(roots) == 1, roots
    return roots.pop()


def drawn(page) -> set[str]:
    return set(page.locator("#diagram g.node").evaluate_all("gs => gs.map(g => g.id.slice(5))"))


@pytest.mark.parametrize("width,height", [(1440, 900), (1280, 800)])
def test_at_laptop_sizes_the_diagram_opens_readable_on_the_top_goal_without_sideways_scrolling(
    live_server, demo, open_page, width, height
):
    case, user = demo
    root = top_goal(case)
    page = open_page(width=width, height=height)
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    frame = page.locator("#diagram").bounding_box()
    assert frame["y"] + 100 < height  # the diagram starts on the first screen
    goal = page.locator(f"#diagram g.node[id='node-{root}']")
    box = goal.bounding_box()
    assert inside(box, frame), (box, frame)
    assert box["y"] < frame["y"] + frame["height"] / 3  # at the top, what it rests on below
    centre = box["x"] + box["width"] / 2
    assert abs(centre - (frame["x"] + frame["width"] / 2)) < 2  # in the middle across
    assert goal.evaluate(TEXT_PX) >= READABLE_PX
    # Not the whole 130-node diagram shrunk to thumbnails: part of it is off screen.
    off_screen = [
        g
        for g in page.locator("#diagram g.node").all()[:200]
        if not inside(g.bounding_box(), frame)
    ]
    assert off_screen
    screenshot(page, f"case-first-view-{width}", full_page=False)
    assert page.js_errors == []


def test_a_node_asked_for_opens_in_the_middle_readable_with_the_focus_ring(
    live_server, demo, open_page
):
    case, user = demo
    page = open_page(width=1280, height=800)
    log_in(page, live_server, user)
    # A node low in the argument: a solution of the last argument.
    wanted = (
        case.nodes.filter(type="solution")
        .order_by("-identifier")
        .values_list("identifier", flat=True)
    )[0]
    page.goto(f"{live_server.url}/cases/{case.pk}/?node={wanted}")
    frame = page.locator("#diagram").bounding_box()
    group = page.locator(f"#diagram g.node[id='node-{wanted}']")
    assert "focused" in group.get_attribute("class").split()
    assert page.locator("#diagram g.node.focused").count() == 1
    box = group.bounding_box()
    assert inside(box, frame)
    assert abs(box["x"] + box["width"] / 2 - (frame["x"] + frame["width"] / 2)) < 2
    assert abs(box["y"] + box["height"] / 2 - (frame["y"] + frame["height"] / 2)) < 2
    assert group.evaluate(TEXT_PX) >= READABLE_PX
    # It is the diagram's Tab stop.
    assert group.locator("a").get_attribute("tabindex") == "0"
    assert page.js_errors == []


def overview_point(page, identifier: str) -> dict:
    """Where a node's centre is drawn in the overview, in page pixels: its centre in diagram
    units (through the main drawing's own transform) mapped through the overview's."""
    return page.evaluate(
        """id => {
            const svg = document.querySelector('#diagram svg');
            const r = document.getElementById('node-' + id).getBoundingClientRect();
            const p = new DOMPoint(r.x + r.width / 2, r.y + r.height / 2)
                .matrixTransform(svg.getScreenCTM().inverse());
            const mini = document.querySelector('[data-minimap] svg');
            const q = p.matrixTransform(mini.getScreenCTM());
            return {x: q.x, y: q.y, dx: p.x, dy: p.y};
        }""",
        identifier,
    )


def test_the_overview_shows_where_the_view_is_and_moves_it(live_server, demo, open_page, expect):
    case, user = demo
    page = open_page(width=1440, height=900)
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    overview = page.locator("[data-minimap]")
    expect(overview).to_be_visible()
    assert overview.bounding_box()["y"] + overview.bounding_box()["height"] < 900  # on screen
    frame = page.locator("#diagram").bounding_box()
    assert inside(overview.bounding_box(), frame)  # in the diagram's corner
    # A copy of the shapes only: no ids, links or Tab stops of its own.
    assert overview.locator("[id], a, text").count() == 0
    assert overview.get_attribute("aria-hidden") == "true"

    def view_rect():
        return overview.locator(".minimap-view").evaluate(
            "r => ['x','y','width','height'].map(k => parseFloat(r.getAttribute(k)))"
        )

    def shows(rect, point) -> bool:
        x, y, w, h = rect
        return x <= point["dx"] <= x + w and y <= point["dy"] <= y + h

    root = top_goal(case)
    assert shows(view_rect(), overview_point(page, root))
    # The node farthest from the top goal in the overview is off screen; a click on it in
    # the overview brings it into view.
    points = {
        g: overview_point(page, g)
        for g in page.locator("#diagram g.node").evaluate_all("gs => gs.map(g => g.id.slice(5))")
    }
    start = points[root]
    far = max(
        points,
        key=lambda g: (points[g]["x"] - start["x"]) ** 2 + (points[g]["y"] - start["y"]) ** 2,
    )
    group = page.locator(f"#diagram g.node[id='node-{far}']")
    assert not inside(group.bounding_box(), frame)
    page.mouse.click(points[far]["x"], points[far]["y"])
    assert inside(group.bounding_box(), frame)
    assert shows(view_rect(), overview_point(page, far))
    assert not shows(view_rect(), overview_point(page, root))

    # A drag in the overview takes the view along: back to the top goal.
    page.mouse.move(points[far]["x"], points[far]["y"])
    page.mouse.down()
    page.mouse.move((points[far]["x"] + start["x"]) / 2, (points[far]["y"] + start["y"]) / 2)
    page.mouse.move(start["x"], start["y"])
    page.mouse.up()
    assert inside(page.locator(f"#diagram g.node[id='node-{root}']").bounding_box(), frame)
    assert shows(view_rect(), overview_point(page, root))
    screenshot(page, "case-overview", full_page=False)
    assert page.js_errors == []


def below(case, identifier: str) -> set[str]:
    """Every element under a node: its supported_by descendants and the context of any."""
    children: dict[str, list[str]] = {}
    for source, target in Link.objects.filter(
        case=case, type__in=("supported_by", "in_context_of")
    ).values_list("source__identifier", "target__identifier"):
        children.setdefault(source, []).append(target)
    seen: set[str] = set()
    stack = [identifier]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in seen and child != identifier:
                seen.add(child)
                stack.append(child)
    return seen


WORDS = {
    "supported": "supported",
    "defeated": "defeated",
    "at risk": "at_risk",
    "undeveloped": "undeveloped",
}
ROLLUP = re.compile(r"(\d+) \S (supported|defeated|at risk|undeveloped)")


def rollup(text: str) -> dict[str, int]:
    """ "2 ✗ defeated · 12 ✓ supported" as {"defeated": 2, "supported": 12}."""
    return {WORDS[word]: int(n) for n, word in ROLLUP.findall(" ".join(text.split()))}


@pytest.mark.parametrize("javascript", [True, False])
def test_down_to_a_level_the_folded_nodes_sum_up_the_statuses_below_them(
    live_server, demo, open_page, expect, javascript
):
    case, user = demo
    statuses = latest_assessment(case=case).statuses
    root = top_goal(case)
    children = supported_by(case)
    page = open_page(javascript=javascript)
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    everything = set(
        page.locator("[data-node-list] a[data-node]").evaluate_all(
            "links => links.map(a => a.dataset.node)"
        )
    )
    page.select_option("#diagram-depth", "2")
    if not javascript:
        page.click("[data-depth-form] button[type=submit]")
    page.wait_for_url(re.compile(r"depth=2"))
    expect(page.locator("#diagram-depth")).to_have_value("2")
    listed = set(
        page.locator("[data-node-list] a[data-node]").evaluate_all(
            "links => links.map(a => a.dataset.node)"
        )
    )
    second_level = set(children[root])
    # The top goal and the level below it are drawn; nothing of the next level is.
    assert {root} | second_level <= listed
    third_level = {c for parent in second_level for c in children.get(parent, [])}
    assert third_level and not (third_level - second_level) & listed
    hidden = everything - listed
    checked = 0
    for identifier in sorted(second_level):
        gone = below(case, identifier) & hidden
        if not gone:
            continue
        counts = Counter(statuses[i] for i in gone if statuses.get(i) in WORDS.values())
        assert counts, identifier
        item = page.locator(f"[data-node-list] a[data-node='{identifier}'] [data-rollup]")
        assert rollup(item.inner_text()) == dict(counts), identifier
        node = page.locator(f"#diagram g.node[id='node-{identifier}']")
        assert rollup(" ".join(node.locator("text").all_text_contents())) == dict(counts)
        checked += 1
    assert checked
    if javascript:
        screenshot(page, "case-depth-2", full_page=False)
    # Back to the whole argument.
    page.select_option("#diagram-depth", "")
    if not javascript:
        page.click("[data-depth-form] button[type=submit]")
    page.wait_for_url(re.compile(r"/cases/\d+/(\?depth=)?$"))
    expect(page.locator("[data-node-list] a[data-node]")).to_have_count(len(everything))
    assert page.js_errors == []


def focused(page) -> str:
    return page.evaluate(
        "(document.activeElement.closest"
        " && document.activeElement.closest('g.node') || {id: ''}).id"
    ).removeprefix("node-")


def test_the_arrow_keys_follow_the_tree_in_the_diagram(live_server, demo, open_page, expect):
    case, user = demo
    root = top_goal(case)
    children = supported_by(case)
    page = open_page(width=1280, height=800)
    log_in(page, live_server, user)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    frame = page.locator("#diagram").bounding_box()
    page.locator(f"#diagram g.node[id='node-{root}'] a").focus()
    assert focused(page) == root

    def ring_on(identifier):
        assert focused(page) == identifier
        assert page.locator("#diagram g.node.focused").evaluate_all(
            "gs => gs.map(g => g.id.slice(5))"
        ) == [identifier]
        box = page.locator(f"#diagram g.node[id='node-{identifier}']").bounding_box()
        assert inside(box, frame), identifier  # panned to

    # ↓ walks down the first supporting element at each level, ↑ back up the same way.
    path = [root]
    while children.get(path[-1]) and len(path) < 6:
        page.keyboard.press("ArrowDown")
        path.append(children[path[-1]][0])
        ring_on(path[-1])
    assert len(path) >= 4, path
    for identifier in reversed(path[:-1]):
        page.keyboard.press("ArrowUp")
        ring_on(identifier)
    page.keyboard.press("ArrowUp")  # the top goal has no parent: the focus stays
    ring_on(root)

    # → and ← move between the elements supporting the same parent.
    parent = next(p for p in path if len(children.get(p, [])) >= 2)
    while focused(page) != parent:
        page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    siblings = children[parent]
    ring_on(siblings[0])
    for identifier in siblings[1:]:
        page.keyboard.press("ArrowRight")
        ring_on(identifier)
    page.keyboard.press("ArrowRight")  # the last one: the focus stays
    ring_on(siblings[-1])
    page.keyboard.press("ArrowLeft")
    ring_on(siblings[-2])
    page.keyboard.press("ArrowUp")
    ring_on(parent)

    # Enter opens the focused node beside the diagram.
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"node={re.escape(siblings[0])}"))
    expect(page.locator("#node-panel .node-title")).to_contain_text(siblings[0])
    assert page.js_errors == []
