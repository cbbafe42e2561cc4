/**
 * A check of a LaunchDarkly flags file before the SDK's file data source loads it: the SDK only
 * logs a failure and then answers every flag with its default, while a person at a terminal wants
 * to be told which file is wrong and where.
 *
 * The format is the SDK's: JSON, or YAML when the name ends in `.yml`/`.yaml`, with `flags`
 * (full flag definitions), `flagValues` (a value per flag) and `segments`.
 *
 * @since 0.1.0
 */
import { Effect, Predicate, Result } from "effect"
import { parse as parseYaml } from "yaml"
import { FlagsFileError } from "./Errors.js"
import { readRegularFile } from "./RegularFile.js"

const isYaml = (path: string): boolean => path.endsWith(".yml") || path.endsWith(".yaml")

// Node reports a JSON syntax error by offset; people look for a line and a column.
const jsonProblem = (text: string, error: unknown): string => {
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ")
  const position = /at position (\d+)/.exec(message)?.[1]
  if (position === undefined) return message
  const before = text.slice(0, Number(position)).split("\n")
  const line = before.length
  const column = (before[before.length - 1]?.length ?? 0) + 1
  return `${message.replace(/ in JSON at position \d+.*$/, "")} at line ${line}, column ${column}`
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  Predicate.isObject(value) && !Array.isArray(value)

/**
 * Checks the text of a flags file and returns the keys of its flags.
 *
 * @since 0.1.0
 * @category validation
 */
export const parseFlagsFile = (path: string, text: string): Result.Result<ReadonlyArray<string>, FlagsFileError> => {
  const fail = (problem: string) => Result.fail(new FlagsFileError({ path, problem }))
  let data: unknown
  try {
    data = isYaml(path) ? parseYaml(text) : JSON.parse(text)
  } catch (error) {
    return isYaml(path)
      ? fail(
          `not valid YAML: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]?.replace(/:$/, "")}`
        )
      : fail(`not valid JSON: ${jsonProblem(text, error)}`)
  }
  if (!isRecord(data)) return fail(`expected an object with "flags", "flagValues" or "segments"`)
  const keys: Array<string> = []
  for (const section of ["flags", "flagValues", "segments"] as const) {
    const value = data[section]
    if (value !== undefined && !isRecord(value))
      return fail(`"${section}" must be an object keyed by ${section === "segments" ? "segment" : "flag"} key`)
  }
  const flags = isRecord(data["flags"]) ? data["flags"] : {}
  for (const [key, flag] of Object.entries(flags)) {
    if (!isRecord(flag)) return fail(`flag "${key}": expected an object`)
    if (flag["key"] !== key) return fail(`flag "${key}": its "key" must be "${key}"`)
    if (!Array.isArray(flag["variations"])) return fail(`flag "${key}": "variations" must be an array`)
    keys.push(key)
  }
  const values = isRecord(data["flagValues"]) ? data["flagValues"] : {}
  for (const key of Object.keys(values)) {
    if (key in flags) return fail(`flag "${key}" is in both "flags" and "flagValues"`)
    keys.push(key)
  }
  return Result.succeed(keys)
}

/**
 * Reads and checks a flags file; returns the keys of its flags.
 *
 * @since 0.1.0
 * @category validation
 */
export const checkFlagsFile = Effect.fn("FlagsFile.check")(function* (path: string) {
  const text = yield* readRegularFile(path).pipe(Effect.mapError((problem) => new FlagsFileError({ path, problem })))
  return yield* Effect.fromResult(parseFlagsFile(path, text))
})
