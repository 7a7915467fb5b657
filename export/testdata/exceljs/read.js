// Opens the .xlsx named by the first argument with exceljs and prints, as JSON, what a
// reader of the export relies on: the workbook's properties, the sheets, the first sheet's
// frozen pane, auto filter, bold header and every cell. The export's Go tests compare it
// with what they wrote; ../openpyxl/read.py prints the same shape.
'use strict';
const ExcelJS = require('exceljs');

// iso is a date to the second, as the export writes them (Excel stores days as a float).
const iso = (d) => (d ? new Date(Math.round(d.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z') : null);

function cell(c) {
  switch (c.type) {
    case ExcelJS.ValueType.Null:
      return null;
    case ExcelJS.ValueType.String:
    case ExcelJS.ValueType.SharedString:
      return {type: 'text', value: c.value};
    case ExcelJS.ValueType.RichText:
      return {type: 'text', value: c.value.richText.map((r) => r.text).join('')};
    case ExcelJS.ValueType.Date:
      return {type: 'date', value: iso(c.value)};
    case ExcelJS.ValueType.Number:
      return {type: 'number', value: String(c.value)};
    case ExcelJS.ValueType.Formula:
      return {type: 'formula', value: c.formula};
    default:
      return {type: 'other', value: JSON.stringify(c.value)};
  }
}

async function main() {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.readFile(process.argv[2]);
  const ws = wb.worksheets[0];
  const view = ws.views[0] || {};
  const rows = [];
  for (let r = 1; r <= ws.rowCount; r++) {
    const row = [];
    for (let c = 1; c <= ws.columnCount; c++) row.push(cell(ws.getRow(r).getCell(c)));
    rows.push(row);
  }
  // Absolute or not, a reference names the same cells: both readers print it without $.
  const filter = typeof ws.autoFilter === 'string' ? ws.autoFilter.replace(/\$/g, '') : JSON.stringify(ws.autoFilter ?? '');
  process.stdout.write(JSON.stringify({
    title: wb.title,
    creator: wb.creator,
    created: iso(wb.created),
    modified: iso(wb.modified),
    sheets: wb.worksheets.map((s) => s.name),
    frozen: {state: view.state || '', ySplit: view.ySplit || 0, topLeftCell: view.topLeftCell || ''},
    autoFilter: filter,
    headerBold: rows[0].map((_, i) => Boolean(ws.getRow(1).getCell(i + 1).font?.bold)),
    rows,
  }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
