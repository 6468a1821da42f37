"""A forgiving reader for the small part of YAML that project files use for bibliographies.

Front matter, `_quarto.yml`, `_bookdown.yml`, `_config.yml` and `myst.yml` only
need mappings, block and flow lists and plain or quoted strings. This reader
handles those, skips block scalars, and ignores any line it does not
understand instead of failing: a malformed config must not stop citation work.
"""

from __future__ import annotations

from dataclasses import dataclass

YamlValue = str | list["YamlValue"] | dict[str, "YamlValue"] | None

_BLOCK_SCALAR_MARKERS = ("|", ">", "|-", ">-", "|+", ">+")


@dataclass
class _Line:
    indent: int
    content: str


def parse_yaml(text: str) -> dict[str, YamlValue]:
    """The top-level mapping of a YAML document ({} when it is not a mapping)."""
    lines = _meaningful_lines(text)
    if not lines:
        return {}
    value, _ = _parse_block(lines, 0, lines[0].indent)
    return value if isinstance(value, dict) else {}


def string_list(value: YamlValue) -> list[str]:
    """A string or a list of strings as a list; anything else as []."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str) and item]
    return []


def _meaningful_lines(text: str) -> list[_Line]:
    lines = []
    for raw in text.replace("\t", "  ").splitlines():
        if raw.strip() in ("---", "..."):
            continue
        content = _strip_comment(raw).rstrip()
        if content.strip():
            lines.append(_Line(len(content) - len(content.lstrip()), content.strip()))
    return lines


def _strip_comment(line: str) -> str:
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return line[:index]
    return line


def _parse_block(lines: list[_Line], index: int, indent: int) -> tuple[YamlValue, int]:
    if _is_list_item(lines[index].content):
        return _parse_list(lines, index, indent)
    return _parse_mapping(lines, index, indent)


def _is_list_item(content: str) -> bool:
    return content == "-" or content.startswith("- ")


def _parse_mapping(lines: list[_Line], index: int, indent: int) -> tuple[dict[str, YamlValue], int]:
    mapping: dict[str, YamlValue] = {}
    while index < len(lines) and lines[index].indent >= indent:
        line = lines[index]
        key, separator, rest = _split_key(line.content)
        if line.indent > indent or not separator or _is_list_item(line.content):
            index += 1
            continue
        index += 1
        rest = rest.strip()
        if rest in _BLOCK_SCALAR_MARKERS or not rest:
            nested = index < len(lines) and (
                lines[index].indent > indent or (lines[index].indent == indent and _is_list_item(lines[index].content))
            )
            if rest in _BLOCK_SCALAR_MARKERS:
                mapping[key], index = _skip_block_scalar(lines, index, indent)
            elif nested:
                mapping[key], index = _parse_block(lines, index, lines[index].indent)
            else:
                mapping[key] = None
        else:
            mapping[key] = _scalar(rest)
    return mapping, index


def _parse_list(lines: list[_Line], index: int, indent: int) -> tuple[list[YamlValue], int]:
    items: list[YamlValue] = []
    while index < len(lines) and lines[index].indent == indent and _is_list_item(lines[index].content):
        item = lines[index].content[1:].strip()
        item_indent = indent + 1 + (len(lines[index].content) - 1 - len(lines[index].content[1:].lstrip()))
        if not item:
            index += 1
            if index < len(lines) and lines[index].indent > indent:
                value, index = _parse_block(lines, index, lines[index].indent)
                items.append(value)
            else:
                items.append(None)
        elif _split_key(item)[1] and not item.startswith(("'", '"', "[", "{")):
            lines[index] = _Line(item_indent, item)
            value, index = _parse_mapping(lines, index, item_indent)
            items.append(value)
        else:
            items.append(_scalar(item))
            index += 1
    return items, index


def _skip_block_scalar(lines: list[_Line], index: int, indent: int) -> tuple[str, int]:
    parts = []
    while index < len(lines) and lines[index].indent > indent:
        parts.append(lines[index].content)
        index += 1
    return "\n".join(parts), index


def _split_key(content: str) -> tuple[str, bool, str]:
    """`key: value` -> (key, True, value); quoted keys allowed; (content, False, "") for no key."""
    if content[:1] in "'\"":
        close = content.find(content[0], 1)
        if close > 0 and content[close + 1 : close + 2] == ":":
            return content[1:close], True, content[close + 2 :]
        return content, False, ""
    position = content.find(": ")
    if position < 0 and content.endswith(":"):
        position = len(content) - 1
    if position <= 0:
        return content, False, ""
    return content[:position].strip(), True, content[position + 1 :]


def _scalar(text: str) -> YamlValue:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return [item for item in (_unquote(part) for part in _split_flow(text[1:-1])) if item]
    return _unquote(text)


def _split_flow(text: str) -> list[str]:
    parts, current, quote = [], [], None
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return text
