import { formatValue, type Report, type Table } from './report.ts';

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1'];
// Room for the longest figure label at 12 px (about 60 characters).
const LABEL_WIDTH = 420;
const BAR_MAX = 380;
const BAR_HEIGHT = 14;
const WIDTH = LABEL_WIDTH + BAR_MAX + 110;

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Horizontal bars, one group per figure and one bar per column. Each group is
 * scaled to its own largest value: the figures have different units, and the
 * point is the comparison within a figure.
 */
export function renderSvg(report: Report): string {
  const parts: string[] = [];
  let y = 30;
  parts.push(`<text x="10" y="${y}" font-size="18" font-weight="bold">${escapeXml(report.title)}</text>`);
  y += 20;
  for (const table of report.tables) {
    if (table.plot) {
      y = renderLines(table, y, parts);
      continue;
    }
    y += 24;
    parts.push(`<text x="10" y="${y}" font-size="15" font-weight="bold">${escapeXml(table.title)}</text>`);
    // The legend gets a line of its own: section titles are long enough to run into it.
    y += 20;
    let legendX = LABEL_WIDTH;
    table.columns.forEach((column, i) => {
      // Six columns do not fit on one line beside the labels; the rest go on the next.
      if (legendX + 16 + column.length * 7 > WIDTH) {
        legendX = LABEL_WIDTH;
        y += 16;
      }
      parts.push(`<rect x="${legendX}" y="${y - 11}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
      parts.push(`<text x="${legendX + 16}" y="${y}" font-size="12">${escapeXml(column)}</text>`);
      legendX += 24 + column.length * 7;
    });
    y += 10;
    for (const row of table.rows) {
      const finite = row.values.filter((v) => Number.isFinite(v));
      const max = Math.max(...finite, 0);
      const groupHeight = row.values.length * (BAR_HEIGHT + 2);
      parts.push(
        `<text x="10" y="${y + groupHeight / 2 + 8}" font-size="12">${escapeXml(`${row.label} (${row.unit})`)}</text>`,
      );
      row.values.forEach((value, i) => {
        const length = Number.isFinite(value) && max > 0 ? Math.max(1, (value / max) * BAR_MAX) : 0;
        const barY = y + 4 + i * (BAR_HEIGHT + 2);
        parts.push(
          `<rect x="${LABEL_WIDTH}" y="${barY}" width="${length.toFixed(1)}" height="${BAR_HEIGHT}" fill="${COLORS[i % COLORS.length]}"/>`,
        );
        parts.push(
          `<text x="${LABEL_WIDTH + length + 4}" y="${barY + 11}" font-size="11">${escapeXml(formatValue(value, row.unit))}</text>`,
        );
      });
      y += groupHeight + 8;
    }
  }
  const height = y + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

const PANEL = { width: 290, height: 170, perLine: 3, left: 44, bottom: 28, top: 34 };

/** Small line charts, one per chosen row: each series' values against `plot.x`. Returns the new y. */
function renderLines(table: Table, top: number, parts: string[]): number {
  const plot = table.plot;
  if (!plot) return top;
  let y = top + 24;
  parts.push(`<text x="10" y="${y}" font-size="15" font-weight="bold">${escapeXml(table.title)}</text>`);
  y += 20;
  let legendX = 10;
  plot.series.forEach((name, i) => {
    parts.push(`<rect x="${legendX}" y="${y - 11}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`);
    parts.push(`<text x="${legendX + 16}" y="${y}" font-size="12">${escapeXml(name)}</text>`);
    legendX += 24 + name.length * 7;
  });
  y += 8;
  plot.rows.forEach((rowIndex, panel) => {
    const row = table.rows[rowIndex];
    if (!row) return;
    const x0 = 10 + (panel % PANEL.perLine) * (PANEL.width + 10);
    const y0 = y + Math.floor(panel / PANEL.perLine) * PANEL.height;
    const finite = row.values.filter((v) => Number.isFinite(v));
    const max = Math.max(...finite, 0) * 1.1 || 1;
    const plotW = PANEL.width - PANEL.left - 10;
    const plotH = PANEL.height - PANEL.top - PANEL.bottom;
    const px = (i: number) => x0 + PANEL.left + (plot.x.length === 1 ? 0 : (i / (plot.x.length - 1)) * plotW);
    const py = (v: number) => y0 + PANEL.top + plotH - (v / max) * plotH;
    parts.push(`<text x="${x0}" y="${y0 + 18}" font-size="12">${escapeXml(`${row.label} (${row.unit})`)}</text>`);
    parts.push(
      `<line x1="${x0 + PANEL.left}" y1="${y0 + PANEL.top + plotH}" x2="${x0 + PANEL.left + plotW}" y2="${y0 + PANEL.top + plotH}" stroke="#999"/>`,
      `<line x1="${x0 + PANEL.left}" y1="${y0 + PANEL.top}" x2="${x0 + PANEL.left}" y2="${y0 + PANEL.top + plotH}" stroke="#999"/>`,
      `<text x="${x0 + PANEL.left - 4}" y="${y0 + PANEL.top + 4}" font-size="10" text-anchor="end">${escapeXml(formatValue(max, row.unit))}</text>`,
      `<text x="${x0 + PANEL.left - 4}" y="${y0 + PANEL.top + plotH}" font-size="10" text-anchor="end">0</text>`,
    );
    plot.x.forEach((x, i) => {
      parts.push(
        `<text x="${px(i)}" y="${y0 + PANEL.top + plotH + 12}" font-size="10" text-anchor="middle">${x}</text>`,
      );
    });
    parts.push(
      `<text x="${x0 + PANEL.left + plotW / 2}" y="${y0 + PANEL.top + plotH + 24}" font-size="10" text-anchor="middle">${escapeXml(plot.xLabel)}</text>`,
    );
    plot.series.forEach((_, s) => {
      const values = row.values.slice(s * plot.x.length, (s + 1) * plot.x.length);
      const points = values
        .map((v, i) => (Number.isFinite(v) ? `${px(i).toFixed(1)},${py(v).toFixed(1)}` : ''))
        .filter((p) => p !== '');
      const color = COLORS[s % COLORS.length];
      parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
      for (const point of points) {
        const [cx, cy] = point.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`);
      }
    });
  });
  return y + Math.ceil(plot.rows.length / PANEL.perLine) * PANEL.height;
}
