"""From validated records to what will be written: resolved dependencies, cycles refused. Pure Python.

A dependency entry is resolved as Task Master writes them, and written back by export_tasks in a
form that resolves to the same task (`reference_for`):
- in a top-level task: a number or a string names a top-level task; "5.2" names subtask 2 of 5;
- in a subtask: a number names a sibling (else a top-level task), a plain string a top-level task
  (else a sibling: slugs), "5.2" that subtask.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apps.filestore.parsing import TagRecord, TaskRecord, number_text, render_own
from apps.filestore.problems import Problems, child

Edge = tuple[str, str]  # (task external_key, depends_on external_key)


def resolve(dep: Any, parent_key: str | None, exists: Callable[[str], bool]) -> str | None:
    """The external key a dependency entry names, or None when no such task exists."""
    if isinstance(dep, Decimal):
        dep = int(dep) if dep == dep.to_integral_value() else number_text(dep)
    if isinstance(dep, bool):
        return None
    if isinstance(dep, int):
        candidates = [str(dep)] if parent_key is None else [f"{parent_key}.{dep}", str(dep)]
    elif isinstance(dep, str):
        text = dep.strip()
        plain = parent_key is not None and "." not in text
        candidates = [text, f"{parent_key}.{text}"] if plain else [text]
    else:
        return None
    return next((c for c in candidates if exists(c)), None)


def reference_for(target: str, target_parent: str | None, parent_key: str | None):
    """The dependency entry that names `target` from a task whose parent is `parent_key`."""
    if target_parent is None:
        # from a subtask a number would mean a sibling: "2" is top-level task 2
        return render_own(target) if parent_key is None else target
    own = target[len(target_parent) + 1 :]
    if target_parent == parent_key and isinstance(render_own(own), int):
        return int(own)
    return target


@dataclass
class TagPlan:
    name: str
    tasks: list[TaskRecord]  # parents before their subtasks (level by level)
    edges: list[Edge]  # accepted dependencies, file order
    skipped_edges: list[Edge] = field(default_factory=list)
    # record → indices of its dependency entries that are not edges (kept as data only)
    not_edges: dict[int, list[int]] = field(default_factory=dict)
    skipped_count: int = 0  # every entry that is not an edge (dangling, self, repeated, cycle)

    @property
    def levels(self) -> list[list[TaskRecord]]:
        out: list[list[TaskRecord]] = []
        for task in self.tasks:
            while len(out) <= task.level:
                out.append([])
            out[task.level].append(task)
        return out


def plan_tag(
    tag: TagRecord, problems: Problems, *, existing_edges: set[Edge] = frozenset()
) -> TagPlan:
    """Resolve the tag's dependencies: dangling ones and those closing a cycle are reported and
    kept as data only (the export writes them back), not made edges.

    `existing_edges` are dependencies in the database that the import keeps; a file edge that would
    close a cycle through them is refused as well. (Re-import replaces the file tasks' own
    dependencies, so only edges from tasks outside the file can be kept.)
    """
    index_of = {t.key: t.index for t in tag.tasks}
    exists = index_of.__contains__
    tasks = sorted(tag.tasks, key=lambda t: t.level)  # stable: file order inside a level
    # candidate edges as parallel arrays: task index, target index, entry index
    src, dst, entry = array("q"), array("q"), array("q")
    skipped: list[Edge] = []
    not_edges: dict[int, list[int]] = {}

    def skip(task: TaskRecord, index: int, edge: Edge | None) -> None:
        not_edges.setdefault(id(task), []).append(index)
        if edge is not None:
            skipped.append(edge)

    def at(task: TaskRecord, index: int) -> str:
        return child(task.pointer, "dependencies", index)

    for task in tag.tasks:
        if not task.deps:
            continue
        targets: set[str] = set()
        parent_key = task.parent_key
        for index, dep in enumerate(task.deps):
            target = resolve(dep, parent_key, exists)
            if target is None:
                shown = str(dep).strip()
                problems.warning(
                    at(task, index),
                    f"task {task.key!r} depends on {shown!r}, which does not exist in tag "
                    f"{tag.name!r}: kept in its list, not made a dependency",
                    entity="dependency",
                )
                skip(task, index, (task.key, shown))
            elif target == task.key:
                problems.warning(
                    at(task, index),
                    f"task {task.key!r} depends on itself: kept in its list, not made a dependency",
                    entity="dependency",
                )
                skip(task, index, (task.key, target))
            elif target in targets:
                problems.warning(
                    at(task, index),
                    f"duplicate dependency {task.key!r} → {target!r}: made one dependency",
                    entity="dependency",
                )
                skip(task, index, None)
            else:
                targets.add(target)
                src.append(task.index)
                dst.append(index_of[target])
                entry.append(index)

    records = tag.tasks
    if existing_edges:
        closing = cycle_closing_edges(
            [(records[a].key, records[b].key) for a, b in zip(src, dst, strict=True)],
            set(existing_edges),
        )
    else:
        # only edges among the nodes an acyclic peeling cannot remove can close a cycle
        stuck = _cyclic_part(len(records), src, dst)
        closing = cycle_closing_edges(
            [
                (records[a].key, records[b].key)
                for a, b in zip(src, dst, strict=True)
                if a in stuck and b in stuck
            ],
            set(),
        )
    accepted: list[Edge] = []
    for a, b, index in zip(src, dst, entry, strict=True):
        edge = (records[a].key, records[b].key)
        if closing and edge in closing:
            path = " → ".join(closing[edge])
            problems.warning(
                at(records[a], index),
                f"dependency cycle: {path}; the dependency {edge[0]!r} → {edge[1]!r} is kept "
                "in the list, not made a dependency",
                entity="dependency",
            )
            skip(records[a], index, edge)
        else:
            accepted.append(edge)
    return TagPlan(
        name=tag.name,
        tasks=tasks,
        edges=accepted,
        skipped_edges=skipped,
        not_edges=not_edges,
        skipped_count=sum(len(v) for v in not_edges.values()),
    )


def _csr(n: int, src: array, dst: array) -> tuple[array, array]:
    """Adjacency of n nodes as (start offsets, targets): node v's targets are
    targets[start[v]:start[v + 1]]."""
    start = array("q", bytes(8 * (n + 1)))
    for a in src:
        start[a + 1] += 1
    for v in range(n):
        start[v + 1] += start[v]
    fill = array("q", start)
    targets = array("q", bytes(8 * len(dst)))
    for a, b in zip(src, dst, strict=True):
        targets[fill[a]] = b
        fill[a] += 1
    return start, targets


def _cyclic_part(n: int, src: array, dst: array) -> set[int]:
    """Nodes left after repeatedly removing those nothing points to (Kahn): every cycle is among
    them. Integer arrays, so a file of a million tasks costs a few megabytes here."""
    if not src:
        return set()
    start, targets = _csr(n, src, dst)
    indegree = array("q", bytes(8 * n))
    for b in dst:
        indegree[b] += 1
    ready = [v for v in range(n) if indegree[v] == 0]
    removed = 0
    while ready:
        v = ready.pop()
        removed += 1
        for i in range(start[v], start[v + 1]):
            t = targets[i]
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    if removed == n:
        return set()
    return {v for v in range(n) if indegree[v] > 0}


def write_order(plan: TagPlan) -> Iterator[tuple[int, int]]:
    """The accepted edges as (task index, target index), dependents first: a task's edges before
    those of the tasks it depends on.

    The database's cycle trigger walks, for each new edge a → b, everything b already reaches. In
    this order b's own edges are not written yet (or only in the same batch), so each walk stays
    inside one batch instead of crossing the whole graph: bulk imports stay linear in batches.
    """
    if not plan.edges:
        return
    records = plan.tasks
    n = max(t.index for t in records) + 1
    index_of = {t.key: t.index for t in records}
    src = array("q", (index_of[a] for a, _ in plan.edges))
    dst = array("q", (index_of[b] for _, b in plan.edges))
    start, targets = _csr(n, src, dst)
    indegree = array("q", bytes(8 * n))
    for b in dst:
        indegree[b] += 1
    ready = deque(v for v in range(n) if indegree[v] == 0)
    written = 0
    while ready:
        v = ready.popleft()
        for i in range(start[v], start[v + 1]):
            t = targets[i]
            yield v, t
            written += 1
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    if written != len(plan.edges):  # a cycle slipped through: the rest, the database decides
        for v in range(n):
            if indegree[v] > 0:
                for i in range(start[v], start[v + 1]):
                    yield v, targets[i]


def cycle_closing_edges(candidates: list[Edge], existing: set[Edge]) -> dict[Edge, list[str]]:
    """Candidate edges that, added in order after `existing`, would close a cycle → the cycle path.

    Only edges inside a strongly connected component of the whole graph can close a cycle, so the
    incremental reachability checks run on those few edges only (the common acyclic file costs one
    O(V+E) pass).
    """
    all_edges = list(existing) + candidates
    component = strongly_connected(all_edges)
    sizes: dict[int, int] = {}
    for c in component.values():
        sizes[c] = sizes.get(c, 0) + 1

    def internal(edge: Edge) -> bool:
        a, b = edge
        return component[a] == component[b] and sizes[component[a]] > 1

    by_component: dict[int, list[Edge]] = {}
    for edge in candidates:
        if internal(edge):
            by_component.setdefault(component[edge[0]], []).append(edge)
    closing: dict[Edge, list[str]] = {}
    for number, edges in by_component.items():
        old = [e for e in existing if component[e[0]] == number and internal(e)]
        if sizes[number] <= GREEDY_LIMIT:
            closing.update(_greedy(edges, old))
        else:
            closing.update(_back_edges(edges, old))
    return closing


# Up to this many tasks in one cycle-bearing component, each edge is checked in file order (exact,
# O(E·V) there); beyond it, the DFS back edges are dropped instead (linear, possibly more edges).
GREEDY_LIMIT = 2000


def _greedy(candidates: list[Edge], existing: list[Edge]) -> dict[Edge, list[str]]:
    graph: dict[str, list[str]] = {}
    for a, b in existing:
        graph.setdefault(a, []).append(b)
    closing: dict[Edge, list[str]] = {}
    for edge in candidates:
        task, target = edge
        path = _path(graph, target, task)
        if path is not None:
            closing[edge] = [task, *path]
        else:
            graph.setdefault(task, []).append(target)
    return closing


def _back_edges(candidates: list[Edge], existing: list[Edge]) -> dict[Edge, list[str]]:
    """Depth-first search in file order; the new edges that point back into the DFS stack close a
    cycle (existing edges are walked first, so the database's own edges are preferred)."""
    graph: dict[str, list[tuple[str, bool]]] = {}
    for a, b in existing:
        graph.setdefault(a, []).append((b, False))
    for a, b in candidates:
        graph.setdefault(a, []).append((b, True))
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    closing: dict[Edge, list[str]] = {}
    for root in graph:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(graph.get(root, ())))]
        while stack:
            node, children = stack[-1]
            for nxt, is_new in children:
                if state.get(nxt) == 1:
                    if is_new:
                        closing[(node, nxt)] = [node, nxt, "…", node]
                    continue
                if nxt not in state:
                    state[nxt] = 1
                    stack.append((nxt, iter(graph.get(nxt, ()))))
                    break
            else:
                state[node] = 2
                stack.pop()
    return closing


def _path(graph: dict[str, list[str]], start: str, goal: str) -> list[str] | None:
    parents: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = []
            while node is not None:
                path.append(node)
                node = parents[node]
            return path[::-1]
        for nxt in graph.get(node, ()):
            if nxt not in parents:
                parents[nxt] = node
                queue.append(nxt)
    return None


def strongly_connected(edges: list[Edge]) -> dict[str, int]:
    """Tarjan's algorithm, iterative: node → component number."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    component: dict[str, int] = {}
    counter = 0
    n_components = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for nxt in children:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component[member] = n_components
                    if member == node:
                        break
                n_components += 1
    return component
