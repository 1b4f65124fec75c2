"""From validated records to what will be written: resolved dependencies, cycles refused. Pure Python."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from apps.filestore.parsing import TagRecord, TaskRecord
from apps.filestore.problems import Problems

Edge = tuple[str, str]  # (task external_key, depends_on external_key)


@dataclass
class TagPlan:
    name: str
    tasks: list[TaskRecord]  # parents before their subtasks
    edges: list[Edge]  # accepted dependencies, file order
    skipped_edges: list[Edge] = field(default_factory=list)


def plan_tag(
    tag: TagRecord, problems: Problems, *, existing_edges: set[Edge] = frozenset()
) -> TagPlan:
    """Resolve the tag's dependencies: dangling ones and those closing a cycle are reported and skipped.

    `existing_edges` are the workflow's dependencies already in the database that the import keeps
    (none with --prune); a file edge that would close a cycle through them is refused as well.
    """
    keys = {t.key for t in tag.tasks}
    tasks = [t for t in tag.tasks if t.parent_key is None] + [
        t for t in tag.tasks if t.parent_key is not None
    ]
    candidates: list[tuple[Edge, str]] = []
    seen: set[Edge] = set()
    skipped: list[Edge] = []
    for task in tag.tasks:
        for target, ptr in task.dependencies:
            edge = (task.key, target)
            if target not in keys:
                problems.warning(
                    ptr,
                    f"task {task.key!r} depends on {target!r}, which does not exist in tag "
                    f"{tag.name!r}: dependency skipped",
                    entity="dependency",
                )
                skipped.append(edge)
            elif target == task.key:
                problems.warning(
                    ptr, f"task {task.key!r} depends on itself: skipped", entity="dependency"
                )
                skipped.append(edge)
            elif edge in seen:
                problems.warning(
                    ptr,
                    f"duplicate dependency {task.key!r} → {target!r} ignored",
                    entity="dependency",
                )
            else:
                seen.add(edge)
                candidates.append((edge, ptr))

    kept_existing = {e for e in existing_edges if e not in seen}
    closing = cycle_closing_edges([e for e, _ in candidates], kept_existing)
    accepted: list[Edge] = []
    pointers = dict(candidates)
    for edge, _ptr in candidates:
        if edge in closing:
            path = " → ".join(closing[edge])
            problems.warning(
                pointers[edge],
                f"dependency cycle: {path}; the dependency {edge[0]!r} → {edge[1]!r} is skipped",
                entity="dependency",
            )
            skipped.append(edge)
        else:
            accepted.append(edge)
    return TagPlan(name=tag.name, tasks=tasks, edges=accepted, skipped_edges=skipped)


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


def insertion_order(edges: list[Edge]) -> list[Edge]:
    """The (acyclic) edges ordered dependents first: a task's edges before those of the tasks it
    depends on.

    The database's cycle trigger walks, for each new edge a → b, everything b already reaches. In
    this order b's own edges are not written yet (or only in the same batch), so each walk stays
    inside one batch instead of crossing the whole graph: bulk imports stay linear in batches.
    """
    out: dict[str, list[Edge]] = {}
    indegree: dict[str, int] = {}
    for a, b in edges:
        out.setdefault(a, []).append((a, b))
        indegree[b] = indegree.get(b, 0) + 1
        indegree.setdefault(a, 0)
    ready = deque(node for node, degree in indegree.items() if degree == 0)
    ordered: list[Edge] = []
    while ready:
        node = ready.popleft()
        for edge in out.get(node, ()):
            ordered.append(edge)
            indegree[edge[1]] -= 1
            if indegree[edge[1]] == 0:
                ready.append(edge[1])
    if len(ordered) != len(edges):  # a cycle slipped through: keep the rest, the database decides
        placed = set(ordered)
        ordered += [e for e in edges if e not in placed]
    return ordered
