/**
 * The resolved shape of a configured user table: quoted names, ready for SQL.
 *
 * @internal
 */
import {
  fitIdentifier,
  type QualifiedName,
  parseQualifiedName,
  quoteIdentifier,
  quoteQualifiedName
} from "./identifier.js"

/** The columns of the Prisma `User` model, by their Prisma names. */
export const columnKeys = ["id", "email", "emailVerified", "name", "createdAt", "updatedAt", "metadata"] as const

/** A column of the Prisma `User` model. */
export type ColumnKey = (typeof columnKeys)[number]

/** A user table, its columns and its migrations table, all quoted. */
export interface ResolvedTable {
  readonly name: QualifiedName
  readonly quoted: string
  readonly column: Readonly<Record<ColumnKey, string>>
  /** `"id", "email_verified" AS "emailVerified", …`: every column, named as `UserRow` expects. */
  readonly selectList: string
  /** The migrator's bookkeeping table, as the dotted name `Migrator` expects. */
  readonly migrationsTable: string
}

/** Resolves the table options once, at layer construction. */
export const resolveTable = (options: {
  readonly table?: string | undefined
  readonly columns?: Partial<Record<ColumnKey, string>> | undefined
  readonly migrationsTable?: string | undefined
}): ResolvedTable => {
  const name = parseQualifiedName(options.table ?? "User")
  const column = {} as Record<ColumnKey, string>
  const select: Array<string> = []
  for (const key of columnKeys) {
    const actual = options.columns?.[key] ?? key
    column[key] = quoteIdentifier(actual)
    select.push(actual === key ? column[key] : `${column[key]} AS ${quoteIdentifier(key)}`)
  }
  // `Migrator` splits its table name on dots: keep them out of the derived name.
  const migrationsName = fitIdentifier(`_${name.name.replaceAll(".", "_")}_migrations`)
  if (options.migrationsTable === undefined && name.schema?.includes(".") === true) {
    throw new Error(`the schema of ${JSON.stringify(options.table)} contains a dot: set migrationsTable`)
  }
  return {
    name,
    quoted: quoteQualifiedName(name),
    column,
    selectList: select.join(", "),
    migrationsTable:
      options.migrationsTable ?? (name.schema === undefined ? migrationsName : `${name.schema}.${migrationsName}`)
  }
}
