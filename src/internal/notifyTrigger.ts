/**
 * The SQL of the user-change trigger: a function that `pg_notify`s the changed user's id, and the
 * trigger that calls it after `INSERT`, `UPDATE` or `DELETE`.
 *
 * @internal
 */
import { quoteIdentifier } from "./identifier.js"
import type { ResolvedTable } from "./userTable.js"

/** The trigger's name: triggers are named per table, so one fixed name is enough. */
export const triggerName = "effect_flag_context_user_changed"

/** The function's name, in the table's schema (or the current schema for an unqualified table). */
export const functionName = "effect_flag_context_notify_user_changed"

/**
 * A string constant, as Postgres's `quote_literal` writes it: quotes doubled, and an `E''` string
 * with doubled backslashes when there are backslashes, so it reads the same whatever
 * `standard_conforming_strings` is.
 */
export const quoteLiteral = (value: string): string => {
  const quoted = value.replaceAll("'", "''")
  return value.includes("\\") ? `E'${quoted.replaceAll("\\", "\\\\")}'` : `'${quoted}'`
}

// The body is a constant: the channel and the id column arrive as trigger arguments
// (TG_ARGV[0] and [1]), so nothing configurable is ever written inside it. Reading the id through
// `to_jsonb` works for any column name and type. An INSERT notifies the new id (an instance may
// remember that user as missing); an UPDATE that changes nothing notifies nothing; one that changes
// the id notifies both ids. Ids longer than 255 characters are not valid user ids (never cached),
// and pg_notify would fail the write itself beyond 8000 bytes: they are skipped.
const body = `
DECLARE
  old_row jsonb;
  new_row jsonb;
  old_id text;
  new_id text;
BEGIN
  IF TG_OP <> 'INSERT' THEN
    old_row := to_jsonb(OLD);
    old_id := old_row ->> TG_ARGV[1];
  END IF;
  IF TG_OP <> 'DELETE' THEN
    new_row := to_jsonb(NEW);
    new_id := new_row ->> TG_ARGV[1];
  END IF;
  IF TG_OP = 'UPDATE' AND new_row = old_row THEN
    RETURN NULL;
  END IF;
  IF char_length(old_id) <= 255 THEN
    PERFORM pg_notify(TG_ARGV[0], old_id);
  END IF;
  IF new_id IS DISTINCT FROM old_id AND char_length(new_id) <= 255 THEN
    PERFORM pg_notify(TG_ARGV[0], new_id);
  END IF;
  RETURN NULL;
END
`

/**
 * The statements that install (or replace) the trigger on `table`, in order. The first one fails,
 * with Postgres's own message, when the table or its id column does not exist.
 */
export const triggerStatements = (table: ResolvedTable, idColumn: string, channel: string): ReadonlyArray<string> => {
  const fn =
    table.name.schema === undefined
      ? quoteIdentifier(functionName)
      : `${quoteIdentifier(table.name.schema)}.${quoteIdentifier(functionName)}`
  const trigger = quoteIdentifier(triggerName)
  return [
    `SELECT ${table.column.id} FROM ${table.quoted} WHERE false`,
    `CREATE OR REPLACE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $effect_flag_context$${body}$effect_flag_context$`,
    `DROP TRIGGER IF EXISTS ${trigger} ON ${table.quoted}`,
    `CREATE TRIGGER ${trigger} AFTER INSERT OR UPDATE OR DELETE ON ${table.quoted} FOR EACH ROW EXECUTE FUNCTION ${fn}(${quoteLiteral(
      channel
    )}, ${quoteLiteral(idColumn)})`
  ]
}
