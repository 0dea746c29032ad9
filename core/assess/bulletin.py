"""The monthly bulletin (通报) of an assessment: a ranking per class, as a text table, CSV, XLSX,
HTML or JSON. Every format shows the same rows and numbers."""

import csv
import io
import json
import unicodedata
from typing import Any

import jinja2
import xlsxwriter

from gridcase.core.profile.taxonomy import label_zh
from gridcase.core.text import clean_all

FORMATS = ("table", "csv", "xlsx", "html", "json")
OBJECT_NAMES = {"unit": "单位", "grid": "网格", "person": "人员", "channel": "渠道", "class": "类别"}
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("gridcase.core.assess", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render(result: dict[str, Any], fmt: str) -> bytes:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    # names stored before the text rule existed must not make a workbook Excel cannot open
    result = clean_all(result)
    if fmt == "json":
        return json.dumps(result, ensure_ascii=False, indent=2, default=str).encode()
    sheet = Sheet(result)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(sheet.header)
        writer.writerows([sheet.text(v) for v in row] for row in sheet.rows)
        return ("\ufeff" + out.getvalue()).encode()  # the BOM makes Excel read UTF-8
    if fmt == "xlsx":
        return sheet.xlsx()
    if fmt == "html":
        return _TEMPLATES.get_template("bulletin.html").render(result=result, sheet=sheet).encode()
    return sheet.table().encode()


class Sheet:
    """The bulletin's rows: ranked objects group by group, then the unranked."""

    FIXED = ("排名", "对象", "名称", "类别", "综合得分", "扣分", "最终得分", "等级")

    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result
        self.indicators = [i for i in result["indicators"] if i["code"] in self._shown()]
        self.ledgers = [g["code"] for g in result["ledgers"]]
        self.header = [
            *self.FIXED,
            *(label_zh(i["name"]) for i in self.indicators),
            *(f"{g['name']}（{g['currency']}）" if g["currency"] else g["name"] for g in result["ledgers"]),
        ]
        by_object = {o["object"]: o for o in result["objects"]}
        self.groups = [
            (f"{r['composite']} · {r['class'] or '全部'}", [by_object[o] for o in r["objects"]])
            for r in result["rankings"]
        ]
        ranked = {o for r in result["rankings"] for o in r["objects"]}
        rest = [o for o in result["objects"] if o["object"] not in ranked]
        if rest:
            self.groups.append(("未排名", rest))
        self.rows = [self.row(o) for _, members in self.groups for o in members]

    def _shown(self) -> list[str]:
        """The indicators behind the composites, and the core trio when there are none."""
        codes = [
            t["indicator"] for o in self.result["objects"] if o["composite"] for t in o["composite"]["terms"]
        ]
        return list(dict.fromkeys(codes or ["close_due", "closed", "closure_rate", "on_time_closure_rate"]))

    def row(self, obj: dict[str, Any]) -> list[Any]:
        composite = obj["composite"] or {}
        return [
            obj["rank"] if obj["rank"] is not None else (obj.get("unranked") or "—"),
            obj["code"],
            obj["name"],
            obj["class"] or "",
            composite.get("score"),
            obj["deducted"] or 0,
            obj["final"],
            obj["grade"] or "",
            *(self.value(i, obj["values"].get(i["code"])) for i in self.indicators),
            *(obj["ledgers"].get(code, 0) for code in self.ledgers),
        ]

    @staticmethod
    def value(indicator: dict[str, Any], value: float | None) -> Any:
        if value is None:
            return None
        return Percent(value) if indicator.get("percent") else value

    @staticmethod
    def text(value: Any) -> str:
        if value is None:
            return "—"
        if isinstance(value, Percent):
            return f"{value.value * 100:.2f}%"
        if isinstance(value, float):
            return f"{value:.2f}" if not value.is_integer() else str(int(value))
        return str(value)

    def title(self) -> str:
        by = OBJECT_NAMES.get(self.result["by"], self.result["by"])
        return f"{self.result['period']['label']} 考核通报（按{by}）"

    def table(self) -> str:
        lines = [self.title(), ""]
        for name, members in self.groups:
            lines.append(f"【{name}】")
            rows = [[self.text(v) for v in self.row(o)] for o in members]
            widths = [max(_width(c) for c in column) for column in zip(self.header, *rows, strict=True)]
            for cells in [self.header, *rows]:
                lines.append("  ".join(_pad(c, w) for c, w in zip(cells, widths, strict=True)).rstrip())
            lines.append("")
        return "\n".join(lines)

    def xlsx(self) -> bytes:
        out = io.BytesIO()
        book = xlsxwriter.Workbook(out, {"in_memory": True})
        bold = book.add_format({"bold": True})
        percent = book.add_format({"num_format": "0.00%"})
        number = book.add_format({"num_format": "0.00"})
        sheet = book.add_worksheet("通报")
        sheet.write(0, 0, self.title(), bold)
        line = 2
        for name, members in self.groups:
            sheet.write(line, 0, name, bold)
            sheet.write_row(line + 1, 0, self.header, bold)
            line += 2
            for obj in members:
                for col, value in enumerate(self.row(obj)):
                    if isinstance(value, Percent):
                        sheet.write_number(line, col, value.value, percent)
                    elif isinstance(value, float):
                        sheet.write_number(line, col, value, number)
                    elif value is not None:
                        sheet.write(line, col, value)
                line += 1
            line += 1
        book.close()
        return out.getvalue()


class Percent:
    """A rate shown as a percentage (kept as the rate for spreadsheets)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __str__(self) -> str:
        return Sheet.text(self)


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
