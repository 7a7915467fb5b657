"""Opens the .xlsx named by the first argument with openpyxl and prints, as JSON, the same
shape as ../exceljs/read.js: properties, sheets, frozen pane, auto filter, bold header, cells."""
import datetime
import json
import sys

import openpyxl


def iso(d):
    if d is None:
        return None
    # Excel stores days as a float: round to the second, as the export writes them.
    d = (d + datetime.timedelta(microseconds=500000)).replace(microsecond=0)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def cell(c):
    if c.value is None:
        return None
    if c.is_date:
        return {"type": "date", "value": iso(c.value)}
    if isinstance(c.value, str):
        if c.data_type == "f":
            return {"type": "formula", "value": c.value}
        return {"type": "text", "value": c.value}
    if isinstance(c.value, (int, float)):
        return {"type": "number", "value": repr(c.value)}
    return {"type": "other", "value": repr(c.value)}


def main():
    wb = openpyxl.load_workbook(sys.argv[1])
    ws = wb.worksheets[0]
    pane = ws.sheet_view.pane
    print(json.dumps({
        "title": wb.properties.title,
        "creator": wb.properties.creator,
        "created": iso(wb.properties.created),
        "modified": iso(wb.properties.modified),
        "sheets": wb.sheetnames,
        "frozen": {
            "state": pane.state if pane else "",
            "ySplit": int(pane.ySplit or 0) if pane else 0,
            "topLeftCell": pane.topLeftCell if pane else "",
        },
        # Absolute or not, a reference names the same cells: both readers print it without $.
        "autoFilter": (ws.auto_filter.ref or "").replace("$", ""),
        "headerBold": [bool(c.font and c.font.b) for c in ws[1]],
        "rows": [[cell(c) for c in row] for row in ws.iter_rows(min_row=1, max_row=ws.max_row, max_col=ws.max_column)],
    }, ensure_ascii=False))


main()
