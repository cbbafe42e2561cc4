/**
 * Plain-text tables for the terminal: columns as wide as their widest cell, long headers broken
 * at hyphens, and one column that may wrap so that the table fits the terminal.
 *
 * @since 0.1.0
 */

/**
 * A column of a table.
 *
 * @since 0.1.0
 * @category models
 */
export interface Column {
  readonly header: string
  /** Cells of this column wrap (at `", "`) when the table is wider than `maxWidth`. */
  readonly wrap?: boolean | undefined
}

const GAP = "  "
const MIN_WRAP = 16

// "new-user-onboarding" → ["new-user-", "onboarding"] for a width of 10.
const headerLines = (header: string, width: number): ReadonlyArray<string> => {
  const parts = header.split(/(?<=-)/)
  const lines: Array<string> = []
  for (const part of parts) {
    const last = lines[lines.length - 1]
    if (last !== undefined && last.length + part.length <= width) lines[lines.length - 1] = last + part
    else lines.push(part)
  }
  return lines
}

const wrapCell = (cell: string, width: number): ReadonlyArray<string> => {
  const words = cell.split(/(?<=, )/)
  const lines: Array<string> = []
  for (const word of words) {
    const last = lines[lines.length - 1]
    if (last !== undefined && (last + word).trimEnd().length <= width) lines[lines.length - 1] = last + word
    else lines.push(word)
  }
  return lines.map((line) => line.trimEnd())
}

const longest = (values: Iterable<string>): number => {
  let max = 0
  for (const value of values) max = Math.max(max, value.length)
  return max
}

/**
 * Renders rows under headers. `maxWidth` (the terminal's width) only matters when a column wraps.
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderTable = (
  columns: ReadonlyArray<Column>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  options?: { readonly maxWidth?: number | undefined }
): string => {
  const cellsOf = (index: number) => rows.map((row) => row[index] ?? "")
  const widths = columns.map((column, index) => {
    const cells = longest(cellsOf(index))
    const words = longest(column.header.split(/(?<=-)/))
    return Math.max(cells, words)
  })
  const maxWidth = options?.maxWidth
  if (maxWidth !== undefined) {
    const total = widths.reduce((sum, width) => sum + width, 0) + GAP.length * (columns.length - 1)
    const wrapping = columns.findIndex((column) => column.wrap === true)
    const current = widths[wrapping]
    if (wrapping >= 0 && current !== undefined && total > maxWidth) {
      // Never narrower than its longest word: a wrapped line must not overflow into the next column.
      const words = cellsOf(wrapping).flatMap((cell) => cell.split(/(?<=, )/).map((word) => word.trimEnd()))
      const header = columns[wrapping]?.header.split(/(?<=-)/) ?? []
      widths[wrapping] = Math.max(MIN_WRAP, current - (total - maxWidth), longest(words), longest(header))
    }
  }

  const renderLines = (cells: ReadonlyArray<ReadonlyArray<string>>, align: "top" | "bottom"): Array<string> => {
    const height = Math.max(1, ...cells.map((lines) => lines.length))
    const out: Array<string> = []
    for (let line = 0; line < height; line++) {
      const parts = cells.map((lines, index) => {
        const offset = align === "bottom" ? height - lines.length : 0
        return (lines[line - offset] ?? "").padEnd(widths[index] ?? 0)
      })
      out.push(parts.join(GAP).trimEnd())
    }
    return out
  }

  const header = renderLines(
    columns.map((column, index) => headerLines(column.header, widths[index] ?? 0)),
    "bottom"
  )
  const rule = widths.map((width) => "─".repeat(width)).join(GAP)
  const body = rows.flatMap((row) =>
    renderLines(
      columns.map((column, index) => {
        const cell = row[index] ?? ""
        const width = widths[index] ?? 0
        return column.wrap === true && cell.length > width ? wrapCell(cell, width) : [cell]
      }),
      "top"
    )
  )
  return [...header, rule, ...body].join("\n")
}
