"""Notebook parameters with types: declared in the parameters cell, checked before any run.

Each chapter declares its parameters in the cell tagged ``parameters``. The type of a
parameter is its annotation when it has one (``data_path: str | None = None``), else
the type of its default value (``ft_lr = 1e-5`` is a float). Values given on the
command line (``-p ft_lr 1e-4``) or by a profile are converted to that type before
any chapter runs, and refused with a message naming the parameter, the value and the
expected type when they cannot be.

Command-line values are read as YAML with the 1.2 core schema, so ``1e-4``,
``1E-3`` and ``.5`` are floats and ``0100`` is 100 (YAML 1.1, which PyYAML follows,
reads ``1e-4`` as text, ``0100`` as octal 64 and ``1:30`` as 90); only ``true`` and
``false`` are booleans (``yes``/``no``/``on``/``off`` are text); ``null`` is None;
``[a, b]`` and ``{k: v}`` are lists and dicts. A text
parameter takes the text as typed (``-p model 123`` is the string ``"123"``).

Supported annotations: ``int``, ``float``, ``bool``, ``str``, ``list``, ``dict``,
``list[T]``, ``dict[str, T]``, ``None`` and unions of them (``X | None``).

Dataset options (``dataset_options``) are checked against the loader they go to
(:func:`check_loader_options`): option names against its signature, values against
the types its numpy docstring declares (``measures : str | list of str | None``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = ["Parameter", "ParameterError", "declared_parameters", "parse_text", "coerce",
           "check_types_agree", "OptionError", "check_loader_options", "declared_option_types"]


class ParameterError(ValueError):
    """A parameter value that does not have (and cannot take) the declared type."""


@dataclass(frozen=True)
class Parameter:
    """One declared notebook parameter.

    Attributes
    ----------
    name : str
    default : object
        The default value (a Python literal).
    type : str
        The type, as an annotation string (``"float"``, ``"list[str] | None"``).
    source : str
        The default as written in the notebook.
    """

    name: str
    default: object
    type: str
    source: str


_FLOAT_12 = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")

# The YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution). PyYAML
# implements YAML 1.1, whose implicit types surprise on the command line: 0100 is octal
# (64), 1:30 is sexagesimal (90), yes/no/on/off are booleans, 2024-01-02 is a date.
_CORE_12 = {
    "tag:yaml.org,2002:bool": re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    "tag:yaml.org,2002:int": re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    "tag:yaml.org,2002:float": re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
}
_KEPT_11 = ("tag:yaml.org,2002:null", "tag:yaml.org,2002:merge")


def _int_12(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)  # a leading zero is decimal in 1.2 (0100 -> 100)


def _float_12(loader, node):
    text = loader.construct_scalar(node)
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return float("-inf") if lowered.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return float(text)


def _bool_12(loader, node):
    return loader.construct_scalar(node).lower() == "true"


def _yaml_loader():
    """A safe YAML loader with the 1.2 core schema's implicit types (no 1.1 leftovers)."""
    import yaml

    class Loader(yaml.SafeLoader):
        """SafeLoader resolving plain scalars as YAML 1.2 core: null, true/false, ints, floats."""

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag in _KEPT_11]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    firsts = {"tag:yaml.org,2002:bool": "tTfF", "tag:yaml.org,2002:int": "-+0123456789",
              "tag:yaml.org,2002:float": "-+0123456789."}
    for tag, rx in _CORE_12.items():
        Loader.add_implicit_resolver(tag, rx, list(firsts[tag]))
    Loader.add_constructor("tag:yaml.org,2002:int", _int_12)
    Loader.add_constructor("tag:yaml.org,2002:float", _float_12)
    Loader.add_constructor("tag:yaml.org,2002:bool", _bool_12)
    return Loader


def parse_text(text):
    """Read a command-line value as YAML with the 1.2 core schema.

    Only ``true``/``false`` (any of their three spellings) are booleans, ``null``/``~``
    is None, integers are decimal, ``0o17`` (octal) or ``0x1F`` (hex), floats are
    decimal with an optional exponent or ``.inf``/``-.inf``/``.nan``; everything else
    is text (``yes``, ``off``, ``1:30``, ``0100`` is 100, ``2024-01-02`` stays text).

    Parameters
    ----------
    text : str

    Returns
    -------
    object
        ``"3"`` -> 3, ``"1e-4"`` -> 0.0001, ``"true"`` -> True, ``"[a, b]"`` -> list,
        ``"null"`` -> None; text that is not valid YAML stays text.
    """
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())
    except yaml.YAMLError:
        return text


def _type_of(value):
    if isinstance(value, list) and value:
        inner = {_type_of(v) for v in value}
        if len(inner) == 1 and inner <= {"int", "float", "str", "bool"}:
            return f"list[{inner.pop()}]"
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "bool"
    for t in (int, float, str, list, dict):
        if isinstance(value, t):
            return t.__name__
    return type(value).__name__


def declared_parameters(source):
    """The parameters declared in a parameters cell.

    Parameters
    ----------
    source : str
        The cell's code.

    Returns
    -------
    dict of str to Parameter

    Raises
    ------
    ParameterError
        A default that is not a Python literal, or a ``None`` default without an
        annotation (its type could not be checked).
    """
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            annotation = None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target.id]
            annotation = ast.get_source_segment(source, node.annotation)
        else:
            continue
        text = ast.get_source_segment(source, node.value) if node.value is not None else "None"
        try:
            default = ast.literal_eval(node.value) if node.value is not None else None
        except ValueError:
            raise ParameterError(f"parameter {targets[0]!r}: default {text} is not a literal; "
                                 "parameters must be plain values.") from None
        kind = annotation or _type_of(default)
        if kind == "None":
            raise ParameterError(f"parameter {targets[0]!r} defaults to None without a type; "
                                 f"annotate it, e.g. `{targets[0]}: str | None = None`.")
        for name in targets:
            out[name] = Parameter(name, default, kind, text)
    return out


def _split_union(kind):
    parts, depth, cur = [], 0, ""
    for ch in kind:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "|" and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts


def _convert(value, kind, text):
    """``value`` as type ``kind`` (one member of a union), or raise ValueError."""
    if kind in ("None", "NoneType"):
        if value is None:
            return None
        raise ValueError
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ValueError
    if kind == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError
    if kind == "float":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _FLOAT_12.match(value.strip()):
            return float(value)
        raise ValueError
    if kind == "str":
        if isinstance(value, str):
            return value
        if text is not None and value is not None and not isinstance(value, (list, dict)):
            return text  # a number or bool given for a text parameter: keep what was typed
        raise ValueError
    m = re.fullmatch(r"(list|dict)(?:\[(.*)\])?", kind)
    if m:
        container, inner = m.group(1), m.group(2)
        if container == "list":
            if isinstance(value, tuple):
                value = list(value)
            if not isinstance(value, list):
                raise ValueError
            return [coerce_value(v, inner, None) for v in value] if inner else value
        if not isinstance(value, dict):
            raise ValueError
        if inner:
            key_t, val_t = [p.strip() for p in inner.split(",", 1)]
            return {coerce_value(k, key_t, None): coerce_value(v, val_t, None)
                    for k, v in value.items()}
        return value
    raise ParameterError(f"unsupported parameter type {kind!r}.")


def coerce_value(value, kind, text=None):
    """Convert ``value`` to the annotated type ``kind`` (raises ValueError if impossible)."""
    for member in _split_union(kind):
        try:
            return _convert(value, member, text)
        except ValueError:
            continue
    raise ValueError


def coerce(param, value, text=None):
    """The value a parameter receives, with its declared type.

    Parameters
    ----------
    param : Parameter
    value : object
        From a profile, or :func:`parse_text` of the command line.
    text : str | None
        What was typed on the command line (kept as is for text parameters).

    Returns
    -------
    object

    Raises
    ------
    ParameterError
        Naming the parameter, the value and the expected type.
    """
    try:
        return coerce_value(value, param.type, text)
    except ValueError:
        shown = text if text is not None else repr(value)
        raise ParameterError(f"parameter {param.name!r}: value {shown} ({_type_of(value)}) is "
                             f"not of type {param.type} (its default is {param.source}).") from None


def check_types_agree(declared_by_chapter):
    """Check that a parameter declared by several chapters has one type everywhere.

    Parameters
    ----------
    declared_by_chapter : dict of str to dict of str to Parameter

    Returns
    -------
    dict of str to Parameter
        One declaration per name.

    Raises
    ------
    ParameterError
        Naming the parameter and the chapters that disagree.
    """
    merged, seen = {}, {}
    for chapter, params in declared_by_chapter.items():
        for name, p in params.items():
            if name in merged and merged[name].type != p.type:
                raise ParameterError(f"parameter {name!r} has type {merged[name].type} in chapter "
                                     f"{seen[name]!r} but {p.type} in chapter {chapter!r}.")
            merged.setdefault(name, p)
            seen.setdefault(name, chapter)
    return merged


# --------------------------------------------------------------------------- loader options
def declared_option_types(function):
    """The option types a function declares in its numpy-style ``Parameters`` section.

    The loaders of :mod:`analysis.datasets` document each option as ``name : type``
    (``measures : str | list of str | None``, ``edge : {"drop", "error"}``); that
    declaration is what dataset options are checked against (the signatures carry no
    annotations, and a default of None says nothing about the type).

    Parameters
    ----------
    function : callable

    Returns
    -------
    dict of str to str
        Option name to its declared type, as written.
    """
    import inspect

    doc = inspect.getdoc(function) or ""
    match = re.search(r"^Parameters\n-+\n(.*?)(?:^\w[\w ]*\n-+\n|\Z)", doc, re.S | re.M)
    out = {}
    lines = (match.group(1) if match else "").splitlines()
    for k, line in enumerate(lines):
        m = re.match(r"^([A-Za-z_][\w, ]*?) : (.+)$", line)
        if m:
            for name in m.group(1).split(","):
                out[name.strip()] = m.group(2).strip()
            continue
        # "window_ms, tmin\n    As in :func:`load_mne_epochs`." borrows those types
        m = re.match(r"^([A-Za-z_][\w, ]*)$", line)
        ref = re.search(r"As in :func:`~?([\w.]+)`", " ".join(lines[k + 1:k + 3]))
        other = function.__globals__.get(ref.group(1).split(".")[-1]) if m and ref else None
        if other is not None and other is not function:
            theirs = declared_option_types(other)
            for name in m.group(1).split(","):
                if name.strip() in theirs:
                    out[name.strip()] = theirs[name.strip()]
    return out


def _doc_member_accepts(member, value):
    """Whether ``value`` (read from YAML) fits one member of a documented type.

    Returns True, False, or None for a type a YAML value cannot be (``mne.Info``).
    """
    member = member.strip()
    if member.startswith("{") and member.endswith("}"):
        choices = [_literal(c) for c in member[1:-1].split(",")]
        return any(value == c and type(value) is type(c) for c in choices)
    if member[:1] in "\"'" and member[-1:] == member[:1]:
        return value == member[1:-1]
    if member in ("None", "True", "False"):
        return value is {"None": None, "True": True, "False": False}[member]
    if member in ("str", "Path", "path"):
        return isinstance(value, str)
    if member == "bool":
        return isinstance(value, bool)
    if member == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if member == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if member == "dict":
        return isinstance(value, dict)
    m = re.fullmatch(r"(list|sequence|tuple)(?: of (.+))?", member)
    if m:
        if not isinstance(value, list):
            return False
        if not m.group(2):
            return True
        inner = [p for p in re.split(r"\s+or\s+|\s*\|\s*", m.group(2)) if p]
        inner = [p[:-1] if p.endswith("s") and p[:-1] in ("str", "int", "float") else p
                 for p in inner]
        return all(any(_doc_member_accepts(p, v) for p in inner) for v in value)
    return None


def _literal(text):
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _doc_type_accepts(declared, value):
    """Whether ``value`` fits a documented type (True when the type cannot be checked)."""
    verdicts = [_doc_member_accepts(m, value) for m in _split_union(declared)]
    if all(v is None for v in verdicts):
        return True
    return any(verdicts)


class OptionError(ParameterError):
    """A dataset option that the loader does not take, or of the wrong type."""


def check_loader_options(function, options, what="dataset"):
    """Check keyword options against a loader's signature and documented types.

    Parameters
    ----------
    function : callable
        The loader (``loader(path, **options)``).
    options : dict
        Options as read from ``dataset_options``.
    what : str
        For messages (``"dataset 'table'"``).

    Raises
    ------
    OptionError
        An option the loader does not take (listing those it takes), or a value not of
        the loader's documented type (naming the option, the value, its type and the
        expected type).
    """
    import inspect

    if not isinstance(options, dict):
        raise OptionError(f"{what}: dataset_options is {options!r} ({_type_of(options)}); "
                          "expected a mapping such as {name: value}.")
    params = list(inspect.signature(function).parameters.values())
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params)
    names = [p.name for p in params[1:]  # the first argument is the data's path
             if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(str(k) for k in options if k not in names)
    if unknown and not takes_any:
        raise OptionError(f"{what}: unknown option(s) {unknown} in dataset_options; the "
                          f"loader takes {names}.")
    declared = declared_option_types(function)
    for name, value in options.items():
        kind = declared.get(name)
        if kind is not None and not _doc_type_accepts(kind, value):
            raise OptionError(f"{what}: option {name!r} is {value!r} ({_type_of(value)}); "
                              f"expected {kind}.")
