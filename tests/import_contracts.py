"""An import-linter contract type that import-linter lacks: no import cycle anywhere.

`acyclic_siblings` only compares siblings package by package; this one looks at modules.
Every module of the named packages is a node and every import an edge, function-local
imports included (grimp records an import wherever it stands in the file), so a cycle
cannot hide inside a function. `make test` runs it through `lint-imports`
(`[tool.importlinter]` in pyproject.toml); tests/test_import_graph.py runs it too.
"""

from importlinter import Contract, ContractCheck, fields, output


def import_cycles(graph, packages) -> list[list[tuple[str, str, list[int]]]]:
    """Each cycle as its strongly connected component: the imports (importer, imported,
    line numbers) that stay inside it. Empty when the graph is acyclic."""
    roots = set(packages)

    def ours(module: str) -> bool:
        return module.split(".")[0] in roots

    edges = {
        module: sorted(m for m in graph.find_modules_directly_imported_by(module) if ours(m))
        for module in sorted(m for m in graph.modules if ours(m))
    }
    # Tarjan's algorithm, with an explicit stack: no recursion limit on a large graph.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    components.append(sorted(component))
    cycles = []
    for component in components:
        inside = set(component)
        cycles.append(
            [
                (
                    importer,
                    imported,
                    sorted(
                        {
                            d["line_number"]
                            for d in graph.get_import_details(importer=importer, imported=imported)
                        }
                    ),
                )
                for importer in component
                for imported in edges[importer]
                if imported in inside
            ]
        )
    return cycles


class AcyclicContract(Contract):
    """No module of `packages` imports, directly or through others, itself."""

    type_name = "acyclic"

    packages = fields.ListField(subfield=fields.StringField())

    def check(self, graph, verbose: bool) -> ContractCheck:
        cycles = import_cycles(graph, list(self.packages))
        return ContractCheck(kept=not cycles, metadata={"cycles": cycles})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for cycle in check.metadata["cycles"]:
            modules = sorted({importer for importer, _, _ in cycle})
            output.print_error(f"A cycle through {len(modules)} modules:")
            output.new_line()
            for importer, imported, lines in cycle:
                where = ", ".join(str(n) for n in lines)
                output.indent_cursor()
                output.print_error(f"{importer} -> {imported} (l. {where})", bold=False)
            output.new_line()
