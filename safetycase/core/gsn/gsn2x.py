"""gsn2x YAML interchange: read gsn2x files into an Argument and write an Argument back.

The format is that of https://github.com/jonasthewolf/gsn2x (v4): one file is one module; its
top-level mapping holds an optional `module:` block and one key per element id. The reader
mirrors gsn2x (`src/main.rs` read_inputs, `src/gsn/mod.rs` GsnNode/ModuleInformation):

* the element type comes from `nodeType` or else from the id prefix, tried in the order CG, G,
  CSn, Sn, S, C, A, J;
* `supportedBy`, `inContextOf` and `defeatedRelation` take one id or a list of ids;
* `challenges` takes one string, either an id or a relationship "X -> Y" (split at the first
  "->", both ends trimmed);
* `module.uses` names further files, relative to the including file, that are read as well;
* an element key that gsn2x does not know is an additional layer, kept as it is.

Where gsn2x differs on purpose here: a file without a `module:` block belongs to the module ""
(gsn2x names it after the path given on its command line, which depends on the working
directory); a file reached twice through `uses` (or named on the command line as well) is read
once instead of being reported as C06, and only a real `uses` cycle is an error; ids duplicated
across files are kept as separate elements for the rules to report (R1) instead of C07 here.

Nothing here imports Django.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from safetycase.core.gsn.model import Argument, Element, ElementType, Relation, RelationType

MODULE_KEY = "module"
FILE_SUFFIX = ".gsn.yaml"
# The file written for elements outside any module (arguments read from a file without `module:`).
UNMODULED_FILE_STEM = "argument"

# gsn2x `get_node_type_from_text`: order matters (CG before G, CSn before Sn before S before C).
PREFIX_TYPES: tuple[tuple[str, ElementType], ...] = (
    ("CG", ElementType.COUNTER_GOAL),
    ("G", ElementType.GOAL),
    ("CSn", ElementType.COUNTER_SOLUTION),
    ("Sn", ElementType.SOLUTION),
    ("S", ElementType.STRATEGY),
    ("C", ElementType.CONTEXT),
    ("A", ElementType.ASSUMPTION),
    ("J", ElementType.JUSTIFICATION),
)
# gsn2x `GsnNodeType` names, as written in `nodeType:`.
NODE_TYPES: dict[str, ElementType] = {
    "Goal": ElementType.GOAL,
    "Strategy": ElementType.STRATEGY,
    "Solution": ElementType.SOLUTION,
    "Justification": ElementType.JUSTIFICATION,
    "Context": ElementType.CONTEXT,
    "Assumption": ElementType.ASSUMPTION,
    "CounterGoal": ElementType.COUNTER_GOAL,
    "CounterSolution": ElementType.COUNTER_SOLUTION,
}
GSN2X_TYPE_NAMES: dict[str, str] = {value.value: name for name, value in NODE_TYPES.items()}

# Element keys that become Element fields or Relations rather than attributes.
STRUCTURAL_KEYS = frozenset(
    {"text", "nodeType", "undeveloped", "supportedBy", "inContextOf", "challenges"}
)
REFERENCE_KEYS = {
    "supportedBy": RelationType.SUPPORTED_BY,
    "inContextOf": RelationType.IN_CONTEXT_OF,
}


class Gsn2xError(ValueError):
    """Input that is not a gsn2x argument (or an argument gsn2x cannot express), with a sentence
    naming the file and element."""


def type_from_identifier(identifier: str) -> ElementType | None:
    """The element type gsn2x infers from an id prefix, or None when no prefix matches."""
    for prefix, element_type in PREFIX_TYPES:
        if identifier.startswith(prefix):
            return element_type
    return None


# --------------------------------------------------------------------------------------------
# Reading


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads scalars as YAML 1.2 does, as gsn2x (serde_yml) does, and refuses
    duplicate keys, as gsn2x does (`src/yaml_fix.rs`).

    YAML 1.1 would turn `yes`, `off`, `2025-06-01` or `1:30` into booleans, dates and numbers;
    gsn2x reads them as strings, and dates could not be stored as attributes anyway.
    """

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:  # unhashable key: let SafeLoader report it
                    break
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    value = loader.construct_scalar(node)
    if value.startswith("0x"):
        return int(value[2:], 16)
    if value.startswith("0o"):
        return int(value[2:], 8)
    return int(value, 10)


_SCHEMA_DEPENDENT_TAGS = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _SCHEMA_DEPENDENT_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# The YAML 1.2 core schema.
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+.0123456789"),
)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_files(paths: Iterable[Path | str]) -> Argument:
    """Read gsn2x files, and the files their `module.uses` name, into one Argument.

    Files are read breadth first like gsn2x: the given files in order, then the files they use,
    and so on. A file reached more than once is read once. Raises Gsn2xError for anything that is
    not a gsn2x argument.
    """
    argument = Argument()
    modules_by_file: dict[Path, str] = {}
    module_files: dict[str, str] = {}  # module name -> file that declared it
    uses_graph: dict[Path, list[Path]] = {}
    shown: dict[Path, str] = {}  # resolved path -> the path as given or built from `uses`
    given = [Path(p) for p in paths]
    wave: list[tuple[Path, str | None]] = [(p, None) for p in given]
    if not wave:
        raise Gsn2xError("No gsn2x file was given.")
    while wave:
        next_wave: list[tuple[Path, str | None]] = []
        for path, included_by in wave:
            resolved = _resolve(path, included_by)
            if resolved in modules_by_file:
                continue
            module, info, uses = _load_file(path, argument)
            modules_by_file[resolved] = module
            shown[resolved] = str(path)
            if module:
                if module in module_files:
                    raise Gsn2xError(
                        f"Module name {module!r} in {path} is already used by "
                        f"{module_files[module]}: every module needs its own name (gsn2x C06)."
                    )
                module_files[module] = str(path)
                argument.modules[module] = info
            uses_graph[resolved] = []
            for use in uses:
                # gsn2x `get_uses_files`: relative to the including file's folder, "\\" as "/".
                use = use.replace("\\", "/")
                use_path = Path(use) if Path(use).is_absolute() else path.parent / use
                uses_graph[resolved].append(_resolve(use_path, str(path)))
                next_wave.append((use_path, str(path)))
        wave = next_wave
    _refuse_uses_cycles(uses_graph, shown)
    if not argument.elements:
        raise Gsn2xError(
            f"No elements found in {', '.join(str(p) for p in given)}: a gsn2x file maps "
            "element ids such as G1 to their attributes."
        )
    return argument


def _resolve(path: Path, included_by: str | None) -> Path:
    try:
        return path.resolve(strict=True)
    except OSError as exc:
        if included_by is not None:
            raise Gsn2xError(
                f"{included_by} uses {path}, which cannot be read ({exc.strerror or exc})."
            ) from exc
        raise Gsn2xError(f"Cannot read {path} ({exc.strerror or exc}).") from exc


def _load_file(path: Path, argument: Argument) -> tuple[str, dict[str, Any], list[str]]:
    """Add the file's elements and relations to `argument`; return (module, module info, uses)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise Gsn2xError(f"Cannot read {path} ({exc}).") from exc
    try:
        # A SafeLoader subclass: no arbitrary objects.
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise Gsn2xError(f"{path} is not valid YAML: {_yaml_problem(exc)}.") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise Gsn2xError(
            f"{path} does not hold a gsn2x argument: its top level is a {_kind(data)}, but gsn2x "
            "expects a mapping from element ids (G1, S1, Sn1, ...) to elements."
        )
    module, info, uses = "", {}, []
    if MODULE_KEY in data:
        module, info, uses = _parse_module(data[MODULE_KEY], path)
    for identifier, body in data.items():
        if identifier == MODULE_KEY:
            continue
        element, relations = _parse_element(identifier, body, module, path)
        argument.elements.append(element)
        argument.relations.extend(relations)
    return module, info, uses


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """One line for a PyYAML error: what is wrong and where."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        problem = exc.problem
        if problem.startswith("found duplicate key "):  # from _Loader
            problem = f"the key {problem.removeprefix('found duplicate key ')} appears twice"
        mark = exc.problem_mark
        if mark is not None:
            return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
        return problem
    return " ".join(str(exc).split())


def _parse_module(block: Any, path: Path) -> tuple[str, dict[str, Any], list[str]]:
    where = f"The module block of {path}"
    if not isinstance(block, dict):
        raise Gsn2xError(f"{where} is a {_kind(block)}; it must be a mapping with a name.")
    name = block.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Gsn2xError(f"{where} needs a `name:` that is a non-empty string.")
    info: dict[str, Any] = {}
    for key, value in block.items():
        if not isinstance(key, str):
            raise Gsn2xError(f"{where} has a key {key!r} that is not a string.")
        if key == "name":
            continue
        if key == "brief":
            _expect_string(value, f"{where}: `brief`")
        elif key in ("uses", "stylesheets"):
            _expect_string_list(value, f"{where}: `{key}`")
        elif key == "extends":
            _check_extends(value, where)
        elif key in ("rankIncrement", "charWrap"):
            _expect_count(value, f"{where}: `{key}`")
        elif key == "horizontalIndex":
            _check_horizontal_index(value, f"{where}: `horizontalIndex`")
        else:
            _expect_plain(value, f"{where}: `{key}`")
        info[key] = value
    return name, info, list(info.get("uses", []))


def _check_extends(value: Any, where: str) -> None:
    shape = "a list of `- module: NAME` entries, each with `develops: {FOREIGN_ID: [LOCAL_IDS]}`"
    if not isinstance(value, list):
        raise Gsn2xError(f"{where}: `extends` must be {shape}.")
    for entry in value:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("module"), str)
            or not isinstance(entry.get("develops"), dict)
        ):
            raise Gsn2xError(f"{where}: `extends` must be {shape}.")
        for foreign_id, local_ids in entry["develops"].items():
            if not isinstance(foreign_id, str):
                raise Gsn2xError(f"{where}: `extends` develops {foreign_id!r}, which is not an id.")
            _expect_string_list(local_ids, f"{where}: `extends` develops {foreign_id}")


def _parse_element(
    identifier: Any, body: Any, module: str, path: Path
) -> tuple[Element, list[Relation]]:
    if not isinstance(identifier, str) or not identifier:
        raise Gsn2xError(
            f"{path} has a top-level key {identifier!r} that is not an element id "
            "(ids are strings such as G1 or Sn2)."
        )
    where = f"Element {identifier} in {path}"
    if not isinstance(body, dict):
        raise Gsn2xError(
            f"{where} is a {_kind(body)}, but an element must be a mapping of attributes "
            f"(write `{identifier}: {{}}` for an element without any)."
        )
    statement = ""
    element_type = type_from_identifier(identifier)
    undeveloped = False
    attributes: dict[str, Any] = {}
    relations: list[Relation] = []
    for key, value in body.items():
        if not isinstance(key, str):
            raise Gsn2xError(f"{where} has a key {key!r} that is not a string.")
        if key == "text":
            if value is not None:
                statement = _expect_string(value, f"{where}: `text`")
        elif key == "nodeType":
            if value not in NODE_TYPES:
                raise Gsn2xError(
                    f"{where} has the unknown nodeType {value!r}; gsn2x knows "
                    f"{', '.join(NODE_TYPES)}."
                )
            element_type = NODE_TYPES[value]
            attributes[key] = value
        elif key == "undeveloped":
            undeveloped = _expect_bool(value, f"{where}: `undeveloped`")
        elif key in REFERENCE_KEYS:
            for target in _expect_ids(value, f"{where}: `{key}`"):
                relations.append(Relation(identifier, target, REFERENCE_KEYS[key].value))
        elif key == "challenges":
            relations.append(_parse_challenge(identifier, value, where))
        else:
            _check_attribute(key, value, where)
            attributes[key] = value
    if element_type is None:
        raise Gsn2xError(
            f"{where} has no type: its id does not start with CG, G, CSn, Sn, S, C, A or J, and "
            f"it has no nodeType ({', '.join(NODE_TYPES)})."
        )
    element = Element(
        identifier=identifier,
        type=element_type.value,
        statement=statement,
        undeveloped=undeveloped,
        module=module,
        attributes=attributes,
    )
    return element, relations


def _parse_challenge(identifier: str, value: Any, where: str) -> Relation:
    """gsn2x `deser_challenges`: "X" challenges element X, "X -> Y" the relationship X -> Y."""
    challenged = _expect_string(value, f"{where}: `challenges`")
    if "->" in challenged:
        left, right = (part.strip() for part in challenged.split("->", 1))
        if not left or not right:
            raise Gsn2xError(
                f"{where}: `challenges: {challenged}` must name both ends of the challenged "
                "relationship, as in `challenges: G2 -> Sn1`."
            )
        return Relation(identifier, left, RelationType.CHALLENGES.value, target_relation=right)
    if not challenged.strip():
        raise Gsn2xError(f"{where}: `challenges` is empty; name the challenged element.")
    return Relation(identifier, challenged, RelationType.CHALLENGES.value)


def _check_attribute(key: str, value: Any, where: str) -> None:
    """Check the attributes gsn2x types strictly; additional layers may hold anything."""
    label = f"{where}: `{key}`"
    if key == "url":
        _expect_string(value, label)
    elif key == "classes":
        _expect_string_list(value, label)
    elif key in ("rankIncrement", "charWrap"):
        _expect_count(value, label)
    elif key == "horizontalIndex":
        _check_horizontal_index(value, label)
    elif key == "defeated":
        _expect_bool(value, label)
    elif key == "defeatedRelation":
        _expect_ids(value, label)
    elif key == "acp":
        if not isinstance(value, dict) or not value:
            raise Gsn2xError(f"{label} must map ACP names to an id or a list of ids.")
        for name, refs in value.items():
            if not isinstance(name, str):
                raise Gsn2xError(f"{label} has an ACP name {name!r} that is not a string.")
            _expect_ids(refs, f"{label} {name}")
    else:  # an additional layer, or a key of a later gsn2x
        _expect_plain(value, label)


def _expect_plain(value: Any, label: str) -> None:
    """Additional keys are kept as they are, so they must be plain data (storable as JSON)."""

    def plain(item: Any) -> bool:
        if item is None or isinstance(item, str | bool | int | float):
            return True
        if isinstance(item, list):
            return all(plain(child) for child in item)
        if isinstance(item, dict):
            return all(isinstance(k, str) and plain(v) for k, v in item.items())
        return False

    if not plain(value):
        raise Gsn2xError(
            f"{label} holds {value!r}, which is not plain text, numbers, lists or mappings."
        )


def _check_horizontal_index(value: Any, label: str) -> None:
    shape = "`relative: <integer>` or `absolute: <non-negative integer or last>`"
    if not isinstance(value, dict) or len(value) != 1:
        raise Gsn2xError(f"{label} must be a mapping with one key: {shape}.")
    ((kind, index),) = value.items()
    if kind == "relative" and _is_int(index):
        return
    if kind == "absolute" and ((_is_int(index) and index >= 0) or index == "last"):
        return
    raise Gsn2xError(f"{label} must be {shape}, not {value!r}.")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _expect_count(value: Any, label: str) -> int:
    if not _is_int(value) or value < 0:
        raise Gsn2xError(f"{label} must be a non-negative integer, not {value!r}.")
    return value


def _expect_bool(value: Any, label: str) -> bool:
    if not isinstance(value, bool):
        raise Gsn2xError(f"{label} must be true or false, not {value!r}.")
    return value


def _expect_string(value: Any, label: str) -> str:
    if not isinstance(value, str):
        raise Gsn2xError(f"{label} must be a string, but it is a {_kind(value)} ({value!r}).")
    return value


def _expect_string_list(value: Any, label: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Gsn2xError(f"{label} must be a list of strings, not {value!r}.")
    return value


def _expect_ids(value: Any, label: str) -> list[str]:
    """gsn2x `deser_string_or_seq_string`: one id or a list of ids."""
    ids = [value] if isinstance(value, str) else value
    if not isinstance(ids, list) or not all(isinstance(item, str) and item for item in ids):
        raise Gsn2xError(f"{label} must be an id or a list of ids, not {value!r}.")
    return ids


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        dict: "mapping",
        list: "list",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }.get(type(value), type(value).__name__)


def _refuse_uses_cycles(graph: dict[Path, list[Path]], shown: dict[Path, str]) -> None:
    """Raise Gsn2xError when files include each other through `module.uses`."""
    done: set[Path] = set()
    trail: list[Path] = []

    def visit(node: Path) -> None:
        trail.append(node)
        for child in graph.get(node, []):
            if child in trail:
                cycle = trail[trail.index(child) :] + [child]
                raise Gsn2xError(
                    "These files use each other in a cycle through `module.uses`: "
                    f"{' -> '.join(shown[p] for p in cycle)}."
                )
            if child not in done:
                visit(child)
        trail.pop()
        done.add(node)

    for root in graph:
        if root not in done:
            visit(root)


# --------------------------------------------------------------------------------------------
# Writing


class _Dumper(yaml.SafeDumper):
    """Block style, literal `|` for multi-line text, flow style for lists of ids, no aliases."""

    def ignore_aliases(self, data):
        return True


def _represent_str(dumper: yaml.SafeDumper, data: str):
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _represent_list(dumper: yaml.SafeDumper, data: list):
    flat = bool(data) and all(
        (isinstance(item, str) and "\n" not in item)
        or isinstance(item, int | float)
        or item is None
        for item in data
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(list, _represent_list)


def _quote_what_yaml_12_would_not_read_as_text() -> None:
    """Make the dumper quote every string that a YAML 1.2 reader (gsn2x, `_Loader`) or a YAML
    1.1 reader would take for something else: it knows the YAML 1.1 forms; add the 1.2 ones."""
    for first, resolvers in _Loader.yaml_implicit_resolvers.items():
        for tag, regexp in resolvers:
            if tag in _SCHEMA_DEPENDENT_TAGS:
                _Dumper.add_implicit_resolver(tag, regexp, [first])


_quote_what_yaml_12_would_not_read_as_text()


def _dump(data: dict[str, Any]) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,
    )


def dump_files(argument: Argument) -> dict[str, str]:
    """Write the argument as gsn2x YAML: {file name: file text}, one `<module>.gsn.yaml` a module.

    Elements outside any module go to `argument.gsn.yaml`, which has no `module:` block, so that
    they read back outside any module. Each module block lists in `uses` the modules it refers
    to (plus the ones its original `uses` named), leaving out any that would make the files use
    each other in a cycle. Raises Gsn2xError for what gsn2x cannot express.
    """
    module_order: list[str] = list(argument.modules)
    for element in argument.elements:
        if element.module not in module_order:
            module_order.append(element.module)
    if not module_order:
        module_order = [""]
    file_names = _file_names(module_order)

    first_module: dict[str, str] = {}  # id -> module of its first element
    for element in argument.elements:
        first_module.setdefault(element.identifier, element.module)
    outgoing: dict[str, list[Relation]] = {}
    for relation in argument.relations:
        if relation.source not in first_module:
            raise Gsn2xError(
                f"The {relation.type} relation from {relation.source} to {relation.target} "
                f"starts at {relation.source}, which is not an element of the argument."
            )
        outgoing.setdefault(relation.source, []).append(relation)

    uses = _module_uses(argument, module_order, file_names, first_module, outgoing)

    files: dict[str, list[str]] = {module: [] for module in module_order}
    for module in module_order:
        if module:
            block = _module_block(argument.modules.get(module, {}), module, uses, file_names)
            files[module].append(_dump({MODULE_KEY: block}))
    written: set[tuple[str, str]] = set()
    done_relations: set[str] = set()
    for element in argument.elements:
        if element.identifier == MODULE_KEY:
            raise Gsn2xError(
                "An element cannot be called `module` in gsn2x: that key holds the module block."
            )
        if (element.module, element.identifier) in written:
            raise Gsn2xError(
                f"Module {element.module or '(none)'} has two elements {element.identifier}; "
                "a gsn2x file can hold an id only once."
            )
        written.add((element.module, element.identifier))
        relations = []
        if element.identifier not in done_relations:  # a duplicated id gets its relations once
            relations = outgoing.get(element.identifier, [])
            done_relations.add(element.identifier)
        body = _element_body(element, relations)
        files[element.module].append(_dump({element.identifier: body}))
    return {file_names[module]: "\n".join(parts) for module, parts in files.items()}


def _file_names(modules: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    taken: set[str] = set()
    for module in modules:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", module).strip("._") or UNMODULED_FILE_STEM
        if not module:
            stem = UNMODULED_FILE_STEM
        candidate, number = stem, 1
        while (candidate + FILE_SUFFIX).lower() in taken:
            number += 1
            candidate = f"{stem}-{number}"
        taken.add((candidate + FILE_SUFFIX).lower())
        names[module] = candidate + FILE_SUFFIX
    return names


def _module_uses(
    argument: Argument,
    module_order: list[str],
    file_names: dict[str, str],
    first_module: dict[str, str],
    outgoing: dict[str, list[Relation]],
) -> dict[str, list[str]]:
    """For each module, the modules its file should `use`, without a cycle among the files."""
    edges: dict[str, list[str]] = {module: [] for module in module_order}

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                stack.extend(edges[current])
        return False

    def add(module: str, other: str | None) -> None:
        if not module or other is None or other == module or other in edges[module]:
            return
        if other in edges and not reaches(other, module):
            edges[module].append(other)

    # The original `uses` first, so that the author's structure wins over inferred references.
    for module in module_order:
        for use in argument.modules.get(module, {}).get("uses", []) or []:
            add(module, _module_for_use(use, module_order, file_names))
    referenced: dict[str, list[str]] = {module: [] for module in module_order}
    for source, relations in outgoing.items():
        for relation in relations:
            for end in (relation.target, relation.target_relation):
                if end in first_module:
                    referenced[first_module[source]].append(first_module[end])
    for module in module_order:
        for extension in argument.modules.get(module, {}).get("extends", []) or []:
            if isinstance(extension, dict):
                referenced[module].append(extension.get("module"))
    for module in module_order:
        for other in referenced[module]:
            add(module, other)
    return edges


def _module_for_use(use: Any, module_order: list[str], file_names: dict[str, str]) -> str | None:
    """The module an original `uses` entry named: by exported file name, else by file stem."""
    if not isinstance(use, str):
        return None
    name = PurePosixPath(use.replace("\\", "/")).name
    for module, file_name in file_names.items():
        if file_name == name:
            return module
    stem = name
    for suffix in (FILE_SUFFIX, ".yaml", ".yml"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if stem in module_order and stem:
        return stem
    matches = [m for m in module_order if m and m.lower() == stem.lower()]
    return matches[0] if len(matches) == 1 else None


def _module_block(
    info: dict[str, Any], module: str, uses: dict[str, list[str]], file_names: dict[str, str]
) -> dict[str, Any]:
    block: dict[str, Any] = {"name": module}
    if "brief" in info:
        block["brief"] = info["brief"]
    if uses.get(module):
        block["uses"] = [file_names[other] for other in uses[module]]
    if "extends" in info:
        block["extends"] = info["extends"]
    for key, value in info.items():
        if key not in ("name", "brief", "uses", "extends"):
            block[key] = value
    return block


def _element_body(element: Element, relations: list[Relation]) -> dict[str, Any]:
    where = f"Element {element.identifier}" + (
        f" in module {element.module}" if element.module else ""
    )
    type_name = GSN2X_TYPE_NAMES.get(element.type)
    if type_name is None:
        raise Gsn2xError(f"{where} has the type {element.type!r}, which gsn2x does not know.")
    body: dict[str, Any] = {}
    if element.statement:
        body["text"] = element.statement
    if "nodeType" in element.attributes or type_from_identifier(element.identifier) != element.type:
        body["nodeType"] = type_name
    if element.undeveloped:
        body["undeveloped"] = True
    by_type: dict[str, list[Relation]] = {}
    for relation in relations:
        by_type.setdefault(relation.type, []).append(relation)
    for key, relation_type in REFERENCE_KEYS.items():
        if by_type.get(relation_type.value):
            body[key] = [relation.target for relation in by_type.pop(relation_type.value)]
    challenges = by_type.pop(RelationType.CHALLENGES.value, [])
    if len(challenges) > 1:
        raise Gsn2xError(
            f"{where} challenges {len(challenges)} things "
            f"({', '.join(_challenge_text(c) for c in challenges)}); gsn2x allows one."
        )
    if challenges:
        body["challenges"] = _challenge_text(challenges[0])
    for relation_type, rest in by_type.items():
        raise Gsn2xError(
            f"{where} has a {relation_type!r} relation to {rest[0].target}, which gsn2x cannot "
            "express."
        )
    for key, value in element.attributes.items():
        if key not in STRUCTURAL_KEYS:
            body[key] = value
    return body


def _challenge_text(relation: Relation) -> str:
    if relation.target_relation:
        return f"{relation.target} -> {relation.target_relation}"
    return relation.target
