import { ratio } from '@lab/lab-kit/stats';

export type Unit = 'req/s' | 'ms' | '%' | 'MiB' | 'MB' | 'cores' | 'replicas' | 'requests';

/** Units the label already names ("failed requests"), so no "(unit)" follows it. */
const UNNAMED_UNITS: ReadonlySet<Unit> = new Set(['%', 'replicas', 'requests']);

/** One measured figure, one value per column (NaN when it could not be measured). */
export interface Row {
  label: string;
  unit: Unit;
  values: number[];
}

/** A ratio column: values[numerator] / values[denominator]. */
export interface RatioColumn {
  label: string;
  numerator: number;
  denominator: number;
}

export interface Table {
  title: string;
  columns: string[];
  ratios: RatioColumn[];
  rows: Row[];
  notes?: string[];
  /**
   * Draw each row as lines against `x` rather than as bars: the columns are then
   * `series.length` runs of `x.length` values (all of series 0 first).
   */
  plot?: {
    x: number[];
    xLabel: string;
    series: string[] /** Which rows get a chart (indices); the rest stay in the table. */;
    rows: number[];
  };
}

export interface Report {
  title: string;
  /** Machine, method and settings, one bullet each. */
  setup: string[];
  tables: Table[];
}

export function formatValue(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case 'req/s':
    case 'replicas':
    case 'requests':
      return `${Math.round(value)}`;
    case 'ms':
      return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : `${Math.round(value)}`;
    case '%':
      return `${value.toFixed(1)}%`;
    case 'cores':
      return value.toFixed(2);
    default:
      return value.toFixed(1);
  }
}

const formatRatio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : 'n/a');

function cells(table: Table, row: Row): string[] {
  return [
    `${row.label}${UNNAMED_UNITS.has(row.unit) ? '' : ` (${row.unit})`}`,
    ...row.values.map((v) => formatValue(v, row.unit)),
    ...table.ratios.map((r) =>
      formatRatio(ratio(row.values[r.numerator] ?? Number.NaN, row.values[r.denominator] ?? Number.NaN)),
    ),
  ];
}

const header = (table: Table) => ['figure', ...table.columns, ...table.ratios.map((r) => r.label)];

export function renderMarkdown(report: Report, chartFile: string): string {
  const lines = [`# ${report.title}`, '', ...report.setup.map((s) => `- ${s}`), '', `![chart](${chartFile})`, ''];
  for (const table of report.tables) {
    const head = header(table);
    lines.push(
      `## ${table.title}`,
      '',
      `| ${head.join(' | ')} |`,
      `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    );
    for (const row of table.rows) lines.push(`| ${cells(table, row).join(' | ')} |`);
    if (table.notes?.length) lines.push('', ...table.notes.map((n) => `- ${n}`));
    lines.push('');
  }
  return lines.join('\n');
}

/** The same tables, aligned for a terminal. */
export function renderTerminal(report: Report): string {
  const out: string[] = [];
  for (const table of report.tables) {
    const rows = [header(table), ...table.rows.map((row) => cells(table, row))];
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
    out.push('', table.title);
    for (const row of rows) {
      out.push(
        row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  '),
      );
    }
  }
  return `${out.join('\n')}\n`;
}
