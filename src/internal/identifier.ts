/**
 * Postgres identifiers given as configuration: parsed once, then always written quoted.
 *
 * @internal
 */
import { createHash } from "node:crypto"

/** Postgres keeps the first 63 bytes of an identifier (`NAMEDATALEN - 1`) and drops the rest. */
export const maxIdentifierBytes = 63

const encoder = new TextEncoder()

/** The length of an identifier as Postgres counts it: UTF-8 bytes. */
export const identifierBytes = (identifier: string): number => encoder.encode(identifier).byteLength

/** The longest prefix of `text` that fits in `bytes` UTF-8 bytes, cut between characters. */
const clip = (text: string, bytes: number): string => {
  let used = 0
  let end = 0
  for (const char of text) {
    const size = identifierBytes(char)
    if (used + size > bytes) break
    used += size
    end += char.length
  }
  return text.slice(0, end)
}

/**
 * A name this library derives (a constraint, a bookkeeping table) that Postgres keeps whole: as is
 * when it fits in 63 bytes, else its first bytes, `_`, and 10 hex digits of its SHA-256, so that
 * two long names that share a prefix stay distinct (Postgres would truncate both to the same name).
 */
export const fitIdentifier = (identifier: string): string => {
  if (identifierBytes(identifier) <= maxIdentifierBytes) return identifier
  const hash = createHash("sha256").update(identifier).digest("hex").slice(0, 10)
  return `${clip(identifier, maxIdentifierBytes - hash.length - 1)}_${hash}`
}

/** A table name split into its optional schema and its name, neither quoted. */
export interface QualifiedName {
  readonly schema: string | undefined
  readonly name: string
}

/**
 * Parses `User`, `app.users`, `"app"."users"` or `"my.schema".users`. Unquoted parts are taken
 * verbatim (no case folding), because every part is written quoted afterwards; quote a part to
 * include a dot. Throws on anything else: a malformed name is a programming error.
 */
export const parseQualifiedName = (input: string): QualifiedName => {
  const parts: Array<string> = []
  let i = 0
  const fail = (why: string): never => {
    throw new Error(`invalid table name ${JSON.stringify(input)}: ${why}`)
  }
  while (i <= input.length) {
    let part = ""
    if (input[i] === '"') {
      i++
      for (;;) {
        if (i >= input.length) fail("unterminated quote")
        if (input[i] === '"') {
          if (input[i + 1] === '"') {
            part += '"'
            i += 2
            continue
          }
          i++
          break
        }
        part += input[i]
        i++
      }
    } else {
      while (i < input.length && input[i] !== ".") {
        if (input[i] === '"') fail("a quote inside an unquoted part")
        part += input[i]
        i++
      }
    }
    if (part.length === 0) fail("empty part")
    if (part.includes("\u0000")) fail("NUL character")
    if (identifierBytes(part) > maxIdentifierBytes) {
      fail(`${JSON.stringify(part)} is longer than ${maxIdentifierBytes} bytes, and Postgres would truncate it`)
    }
    parts.push(part)
    if (i === input.length) break
    if (input[i] !== ".") fail("expected a dot after a quoted part")
    i++
  }
  if (parts.length === 1) return { schema: undefined, name: parts[0] as string }
  if (parts.length === 2) return { schema: parts[0], name: parts[1] as string }
  return fail("expected name or schema.name")
}

/** Quotes one identifier for Postgres. */
export const quoteIdentifier = (identifier: string): string => `"${identifier.replaceAll('"', '""')}"`

/** The quoted, possibly schema-qualified name, ready to be written into SQL. */
export const quoteQualifiedName = (name: QualifiedName): string =>
  name.schema === undefined
    ? quoteIdentifier(name.name)
    : `${quoteIdentifier(name.schema)}.${quoteIdentifier(name.name)}`
