/**
 * A configured user table as Postgres actually has it: the column mapping, the check of that
 * mapping against the catalog, the lookup statement written for the column types found, and the
 * ids that can never match (answered without a statement).
 *
 * @internal
 */
import { quoteIdentifier } from "./identifier.js"
import type { ColumnKey } from "./userTable.js"
import { type ResolvedTable, resolveTable } from "./userTable.js"

/** Column names of a user table; `null` for an optional column the table doesn't have. */
export interface PgColumns {
  readonly id?: string | undefined
  readonly email?: string | undefined
  readonly emailVerified?: string | null | undefined
  readonly name?: string | null | undefined
  readonly createdAt?: string | undefined
  readonly updatedAt?: string | null | undefined
  readonly metadata?: string | null | undefined
}

/** The columns that may be absent (`null`). */
export const optionalColumns: ReadonlySet<ColumnKey> = new Set(["emailVerified", "name", "updatedAt", "metadata"])

/** Bounds on what is read of one user's metadata. */
export interface MetadataLimits {
  readonly maxBytes: number
  readonly maxKeys: number
  readonly maxDepth: number
}

export const defaultMetadataLimits: MetadataLimits = { maxBytes: 64 * 1024, maxKeys: 1_000, maxDepth: 32 }

/** The type families a logical column accepts, by catalog type name (domains by their base type). */
const accepted: Readonly<Record<ColumnKey, ReadonlyArray<string>>> = {
  id: ["text", "varchar", "uuid", "int2", "int4", "int8"],
  email: ["text", "varchar", "citext", "bpchar"],
  emailVerified: ["bool", "timestamp", "timestamptz"],
  name: ["text", "varchar", "citext", "bpchar"],
  createdAt: ["timestamptz", "timestamp"],
  updatedAt: ["timestamptz", "timestamp"],
  metadata: ["jsonb", "json", "text"]
}

const typeLabel: Readonly<Record<string, string>> = {
  text: "text",
  varchar: "varchar",
  bpchar: "char",
  citext: "citext",
  uuid: "uuid",
  int2: "smallint",
  int4: "integer",
  int8: "bigint",
  bool: "boolean",
  timestamp: "timestamp",
  timestamptz: "timestamptz",
  jsonb: "jsonb",
  json: "json"
}

/** Whether a column of this catalog type (`int4`, `timestamptz`, …) can be read as the logical column. */
export const acceptsType = (key: ColumnKey, type: string): boolean => accepted[key].includes(type)

/** What a logical column must be, in words, for error messages. */
export const expectedTypes = (key: ColumnKey): string => accepted[key].map((t) => typeLabel[t] ?? t).join(", ")

/** One column as the catalog describes it. */
export interface CatalogColumn {
  readonly name: string
  /** The catalog type name (`int4`, `timestamptz`, …), of the base type for a domain. */
  readonly type: string
  /** The declared type as `format_type` writes it (`timestamp(3) without time zone`). */
  readonly declared: string
  readonly readable: boolean
}

/** A mismatch between the configuration and the table, said so that a person can fix it. */
export interface TableProblem {
  readonly table: string
  readonly column?: string | undefined
  readonly found?: string | undefined
  readonly expected?: string | undefined
  readonly option: string
  readonly message: string
}

/** The configuration, resolved once. */
export interface TableConfig {
  readonly table: ResolvedTable
  /** The display name of the table, as configured. */
  readonly display: string
  /** Actual column names by logical column; absent for a column configured `null`. */
  readonly columns: Readonly<Partial<Record<ColumnKey, string>>>
  readonly limits: MetadataLimits
}

/** An option that can't be right whatever the table: thrown by {@link resolveConfig}. */
export class ConfigProblem extends Error {
  constructor(
    readonly option: string,
    message: string
  ) {
    super(message)
  }
}

export const resolveConfig = (options: {
  readonly table?: string | undefined
  readonly columns?: PgColumns | undefined
  readonly migrationsTable?: string | undefined
  readonly metadataLimits?: Partial<MetadataLimits> | undefined
}): TableConfig => {
  const columns: Partial<Record<ColumnKey, string>> = {}
  const named: Partial<Record<ColumnKey, string>> = {}
  for (const key of ["id", "email", "emailVerified", "name", "createdAt", "updatedAt", "metadata"] as const) {
    const value = options.columns?.[key]
    if (value === null) {
      if (!optionalColumns.has(key)) {
        throw new ConfigProblem(`columns.${key}`, `the option \`columns.${key}\` cannot be null: ${key} is required`)
      }
      continue
    }
    if (value !== undefined) {
      if (value.length === 0 || value.includes("\u0000")) {
        throw new ConfigProblem(
          `columns.${key}`,
          `the option \`columns.${key}\` is not a column name: ${JSON.stringify(value)}`
        )
      }
      named[key] = value
    }
    columns[key] = value ?? key
  }
  const limits = { ...defaultMetadataLimits, ...options.metadataLimits }
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 1) {
      throw new ConfigProblem(
        `metadataLimits.${key}`,
        `the option \`metadataLimits.${key}\` must be a positive integer`
      )
    }
  }
  if (limits.maxDepth > 1_000) {
    throw new ConfigProblem("metadataLimits.maxDepth", "the option `metadataLimits.maxDepth` must be at most 1000")
  }
  let table: ResolvedTable
  try {
    table = resolveTable({ table: options.table, columns: named, migrationsTable: options.migrationsTable })
  } catch (error) {
    throw new ConfigProblem("table", error instanceof Error ? error.message : String(error))
  }
  return {
    table,
    display: options.table ?? "User",
    columns,
    limits
  }
}

/** How ids are compared: the column's own type, so that its index is used. */
export type IdKind = "text" | "varchar" | "uuid" | "int2" | "int4" | "int8"

/** The lookup, written for the column types found in the catalog. */
export interface TablePlan {
  readonly idKind: IdKind
  /** `SELECT … FROM … WHERE id = ANY(`, to be followed by the parameter and {@link TablePlan.selectEnd}. */
  readonly selectSql: string
  /** `)`, or `::uuid[])` etc.: the ids are cast to the column's type, never the column to text. */
  readonly selectEnd: string
  /** The id as the column would write it, or `undefined` when no row can have it. */
  readonly normalizeId: (id: string) => string | undefined
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const INTEGER = /^-?(0|[1-9][0-9]*)$/
const integerRange: Record<"int2" | "int4" | "int8", readonly [bigint, bigint]> = {
  int2: [-32768n, 32767n],
  int4: [-2147483648n, 2147483647n],
  int8: [-9223372036854775808n, 9223372036854775807n]
}

/** Ids of a kind that a row of that id type could have, in the text form Postgres writes. */
export const idNormalizer =
  (kind: IdKind) =>
  (id: string): string | undefined => {
    if (id.includes("\u0000")) return undefined
    switch (kind) {
      case "text":
      case "varchar":
        return id
      case "uuid":
        return UUID.test(id) ? id.toLowerCase() : undefined
      default: {
        if (!INTEGER.test(id) || id === "-0") return undefined
        const value = BigInt(id)
        const [min, max] = integerRange[kind]
        return value < min || value > max ? undefined : id
      }
    }
  }

/** Checks the catalog columns against the configuration: a problem, or the lookup. */
export const planTable = (
  config: TableConfig,
  catalog: ReadonlyArray<CatalogColumn> | undefined
): TableProblem | TablePlan => {
  const table = config.display
  if (catalog === undefined) {
    return {
      table,
      option: "table",
      message:
        `the user table ${JSON.stringify(table)} does not exist (or is not visible on the search_path): ` +
        "set the option `table` to an existing table (schema-qualified if needed), or create it with `migrate: true`"
    }
  }
  const byName = new Map(catalog.map((column) => [column.name, column]))
  const found: Partial<Record<ColumnKey, CatalogColumn>> = {}
  for (const [key, name] of Object.entries(config.columns) as Array<[ColumnKey, string]>) {
    const column = byName.get(name)
    const option = `columns.${key}`
    if (column === undefined) {
      const absent = optionalColumns.has(key) ? ` (or \`null\` if the table has no ${key})` : ""
      return {
        table,
        column: name,
        expected: expectedTypes(key),
        option,
        message:
          `the user table ${JSON.stringify(table)} has no column ${JSON.stringify(name)} for ${key}: ` +
          `set the option \`${option}\` to the column's name${absent}; the table has ${catalog.map((c) => JSON.stringify(c.name)).join(", ")}`
      }
    }
    if (!acceptsType(key, column.type)) {
      return {
        table,
        column: name,
        found: column.declared,
        expected: expectedTypes(key),
        option,
        message:
          `the column ${JSON.stringify(name)} of the user table ${JSON.stringify(table)} is of type ${column.declared}, ` +
          `which cannot be read as ${key} (expected ${expectedTypes(key)}): set the option \`${option}\` to another column` +
          (optionalColumns.has(key) ? " or to `null`" : "")
      }
    }
    if (!column.readable) {
      return {
        table,
        column: name,
        option,
        message:
          `permission denied: the database role may not SELECT the column ${JSON.stringify(name)} of the user table ` +
          `${JSON.stringify(table)}: GRANT SELECT on it to the role of the connection`
      }
    }
    found[key] = column
  }
  return writePlan(config, found as Partial<Record<ColumnKey, CatalogColumn>> & Record<"id", CatalogColumn>)
}

const writePlan = (config: TableConfig, found: Partial<Record<ColumnKey, CatalogColumn>>): TablePlan => {
  const ref = (key: ColumnKey) => `"u".${quoteIdentifier(config.columns[key] as string)}`
  const alias = (key: string) => quoteIdentifier(key)
  const select: Array<string> = []
  const idType = (found.id?.type ?? "text") as IdKind
  select.push(idType === "text" || idType === "varchar" ? `${ref("id")} AS "id"` : `${ref("id")}::text AS "id"`)
  select.push(
    found.email?.type === "text" || found.email?.type === "varchar"
      ? `${ref("email")} AS "email"`
      : `${ref("email")}::text AS "email"`
  )
  const verified = found.emailVerified
  select.push(
    verified === undefined
      ? `false AS "emailVerified"`
      : verified.type === "bool"
        ? `COALESCE(${ref("emailVerified")}, false) AS "emailVerified"`
        : `(${ref("emailVerified")} IS NOT NULL) AS "emailVerified"`
  )
  if (found.name !== undefined) select.push(`${ref("name")}::text AS ${alias("name")}`)
  select.push(`${ref("createdAt")} AS ${alias("createdAt")}`)
  if (found.updatedAt !== undefined) {
    select.push(`COALESCE(${ref("updatedAt")}, ${ref("createdAt")}) AS ${alias("updatedAt")}`)
  }
  let lateral = ""
  if (found.metadata !== undefined) {
    const max = config.limits.maxBytes
    // Measured and dropped in the database: an oversized value never crosses the wire.
    const text = found.metadata.type === "text" ? ref("metadata") : `${ref("metadata")}::text`
    lateral = ` CROSS JOIN LATERAL (SELECT octet_length(${text}) AS "n" OFFSET 0) AS "m"`
    select.push(`CASE WHEN "m"."n" > ${max} THEN NULL ELSE ${ref("metadata")} END AS "metadata"`)
    select.push(`"m"."n" AS "metadataBytes"`)
  }
  return {
    idKind: idType,
    selectEnd: idType === "text" || idType === "varchar" ? ")" : `::${idType}[])`,
    selectSql: `SELECT ${select.join(", ")} FROM ${config.table.quoted} AS "u"${lateral} WHERE ${ref("id")} = ANY(`,
    normalizeId: idNormalizer(idType)
  }
}

/** The catalog query: one row per column, or one row of nulls when the table does not exist. */
export const catalogSql = `SELECT r.rel IS NOT NULL AS "exists", a.attname AS "name",
  CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END AS "type",
  format_type(a.atttypid, a.atttypmod) AS "declared",
  CASE WHEN a.attname IS NULL THEN false ELSE has_column_privilege(r.rel, a.attnum, 'SELECT') END AS "readable"
FROM (SELECT to_regclass($1) AS rel) AS r
LEFT JOIN pg_attribute AS a ON a.attrelid = r.rel AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_type AS t ON t.oid = a.atttypid
LEFT JOIN pg_type AS bt ON bt.oid = t.typbasetype`

export interface CatalogRow {
  readonly exists: boolean
  readonly name: string | null
  readonly type: string | null
  readonly declared: string | null
  readonly readable: boolean
}

export const catalogColumns = (rows: ReadonlyArray<CatalogRow>): ReadonlyArray<CatalogColumn> | undefined => {
  if (rows.length === 0 || rows[0]?.exists !== true) return undefined
  const columns: Array<CatalogColumn> = []
  for (const row of rows) {
    if (row.name === null) continue
    columns.push({ name: row.name, type: row.type ?? "", declared: row.declared ?? "", readable: row.readable })
  }
  return columns
}
