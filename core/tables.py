"""Tables as people keep them: a CSV saved by Excel (UTF-8, with or without a BOM, or GBK on a
Chinese Windows) or the first sheet of an .xlsx workbook, read as text rows with the line (or
sheet row) each came from, so that a problem can be reported where the user will look for it.

The .xlsx reader uses only the standard library: a workbook is a zip of XML, and a closed
network should not need another package to read a roster.
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

from gridcase.core.errors import GridcaseError

Row = tuple[int, list[str]]  # (line or sheet row, cells)
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
RELS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PACKAGE_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# Excel's own order of preference; gb18030 also reads every GBK and GB2312 file
ENCODINGS = ("utf-8-sig", "gb18030")
BINARY = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # a zip's and an OLE file's (.xls) first bytes


def read_table(path: Path) -> tuple[list[str], Iterator[Row]]:
    """The header cells and the rows after them; blank rows are skipped."""
    if not path.is_file():
        raise GridcaseError("not_found", f"no file {path}")
    rows = _xlsx_rows(path) if path.suffix.lower() in (".xlsx", ".xlsm") else _csv_rows(path)
    for _, cells in rows:
        return [c.strip() for c in cells], rows
    raise GridcaseError("invalid_file", f"{path}: the file is empty")


def _csv_rows(path: Path) -> Iterator[Row]:
    data = path.read_bytes()  # the whole file: its encoding can only be told from all of it
    # an .xlsx (a zip) or an old .xls renamed; a NUL or two in a text file are bad cells, which the
    # import refuses by their rows (core/text.py), so that its good rows are still kept
    if data.startswith(BINARY) or data.count(b"\0") * 10 > len(data):
        raise GridcaseError("invalid_file", f"{path} is not a CSV text file (an .xlsx renamed to .csv?)")
    for encoding in ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise GridcaseError(
            "invalid_file",
            f"{path} is neither UTF-8 nor GBK text; in Excel, save it as 'CSV UTF-8 (逗号分隔)'",
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                yield reader.line_num, cells
    except csv.Error as exc:
        raise GridcaseError("invalid_file", f"{path}:{reader.line_num}: {exc}") from None


def _xlsx_rows(path: Path) -> Iterator[Row]:
    try:
        book = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise GridcaseError("invalid_file", f"{path} is not an .xlsx workbook") from None
    with book:
        try:
            strings = _shared_strings(book)
            sheet = ElementTree.fromstring(book.read(_first_sheet(book)))
        except (KeyError, ElementTree.ParseError) as exc:
            raise GridcaseError("invalid_file", f"{path}: cannot read the workbook ({exc})") from None
    for row in sheet.iter(f"{MAIN}row"):
        cells: list[str] = []
        for cell in row.iter(f"{MAIN}c"):
            column = _column(cell.get("r", "")) if cell.get("r") else len(cells)
            cells += [""] * (column - len(cells))
            cells.append(_cell_text(cell, strings))
        if any(c.strip() for c in cells):
            yield int(row.get("r", 0)), cells


def _first_sheet(book: zipfile.ZipFile) -> str:
    workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
    first = workbook.find(f"{MAIN}sheets/{MAIN}sheet")
    if first is None:
        raise KeyError("the workbook has no sheet")
    relations = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
    target = next(
        r.get("Target", "")
        for r in relations.iter(f"{PACKAGE_RELS}Relationship")
        if r.get("Id") == first.get(f"{RELS}id")
    )
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _shared_strings(book: zipfile.ZipFile) -> list[str]:
    if "xl/sharedStrings.xml" not in book.namelist():
        return []
    table = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
    # a rich-text string is several runs, each with its own <t>
    return ["".join(t.text or "" for t in item.iter(f"{MAIN}t")) for item in table.iter(f"{MAIN}si")]


def _cell_text(cell: ElementTree.Element, strings: list[str]) -> str:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        return "".join(t.text or "" for t in cell.iter(f"{MAIN}t"))
    value = cell.findtext(f"{MAIN}v") or ""
    if kind == "s":
        return strings[int(value)] if value.isdigit() and int(value) < len(strings) else ""
    if kind == "n" and value.endswith(".0"):
        return value[:-2]  # a whole number typed as a number, such as a numeric login name
    return value


def _column(reference: str) -> int:
    """The column index of a cell reference: C7 → 2."""
    letters = re.match(r"[A-Z]+", reference.upper())
    number = 0
    for letter in letters.group() if letters else "A":
        number = number * 26 + ord(letter) - ord("A") + 1
    return number - 1
