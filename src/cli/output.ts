/**
 * What the commands share between resolving a user and printing: the context a user gets, the
 * fallbacks in the words the tool prints, and the formatting of evaluations.
 *
 * @since 0.2.0
 */
import type { LDEvaluationReason } from "@launchdarkly/node-server-sdk"
import { Console, Effect, Option, Predicate, Schema } from "effect"
import { ContextCache } from "../ContextCache.js"
import { type Evaluation, type Fallback, FlagClient } from "../FlagClient.js"
import { idOnlyContext, type RequestAttributes, type UserContext, withRequestAttributes } from "../Segmentation.js"
import type { Json, UserId } from "../User.js"
import { validateUserId } from "../UserRepo.js"
import { BadUserId, FlagNotEvaluated, FlagSourceError, InvalidOption } from "./Errors.js"
import { flagSourceName } from "./runtime.js"
import type { Settings } from "./settings.js"

type ContextFallback = Extract<Fallback, "UserNotFound" | "UserRepoUnavailable">

interface ResolvedContext {
  readonly userId: UserId
  readonly fallback: ContextFallback | null
  /** Why the repository failed, for `UserRepoUnavailable`. */
  readonly reason?: string
  /** The root cause of a repository failure: the database's or the decoder's own words. */
  readonly cause?: string | undefined
  readonly context: UserContext
}

/**
 * A user id from the command line, checked; `BadUserId` says why it is not one.
 *
 * @since 0.2.0
 */
export const checkUserId = (userId: string) =>
  Effect.mapError(validateUserId(userId), (error) => new BadUserId({ userId, problem: error.message }))

/**
 * The innermost message of a chain of causes (`cause`, or a `SqlError`'s `reason.cause`), with its
 * code when it has one (Postgres's SQLSTATE, `ECONNREFUSED`).
 *
 * @since 0.2.0
 * @category output
 */
export const describeCause = (cause: unknown): string | undefined => {
  let found: string | undefined
  let current = cause
  for (let depth = 0; depth < 10 && Predicate.isObject(current); depth++) {
    const message = Predicate.hasProperty(current, "message") ? current.message : undefined
    const code = Predicate.hasProperty(current, "code") ? current.code : undefined
    if (Predicate.isString(message) && message !== "") {
      found = Predicate.isString(code) && !message.includes(code) ? `${message} (${code})` : message
    }
    current = Predicate.hasProperty(current, "cause")
      ? current.cause
      : Predicate.hasProperty(current, "reason") && Predicate.hasProperty(current.reason, "cause")
        ? current.reason.cause
        : undefined
  }
  return found
}

/** The context `FlagClient` evaluates with for this user, and the fallback that applied. */
export const resolveContext = Effect.fn("Cli.resolveContext")(function* (userId: UserId, request: RequestAttributes) {
  const cache = yield* ContextCache
  return yield* cache.get(userId).pipe(
    Effect.map(
      (context): ResolvedContext => ({ userId, fallback: null, context: withRequestAttributes(context, request) })
    ),
    Effect.catchTags({
      InvalidUserId: (error) => Effect.fail(new BadUserId({ userId, problem: error.message })),
      UserNotFound: () =>
        Effect.succeed<ResolvedContext>({
          userId,
          fallback: "UserNotFound",
          context: withRequestAttributes(idOnlyContext(userId), request)
        }),
      UserRepoError: (error) =>
        Effect.succeed<ResolvedContext>({
          userId,
          fallback: "UserRepoUnavailable",
          reason: error.reason,
          cause: describeCause(error.cause),
          context: withRequestAttributes(idOnlyContext(userId), request)
        })
    })
  )
})

const fallbackCauses: Readonly<Record<Fallback, string>> = {
  UserNotFound: "no user has this id",
  UserRepoUnavailable: "the user could not be loaded",
  InvalidUserId: "the user id is not valid",
  ClientNotReady: "the LaunchDarkly client is not initialized",
  FlagNotFound: "no such flag",
  WrongType: "the flag's value is not of the default's type",
  EvaluationError: "the SDK could not evaluate the flag"
}

/** What a fallback means, in the words the tool prints. */
export const describeFallback = (fallback: Fallback): string =>
  `${fallbackCauses[fallback]}; ${
    fallback === "UserNotFound" || fallback === "UserRepoUnavailable"
      ? "evaluated with an id-only context"
      : "the default was served"
  }`

/**
 * The fallbacks that mean the flag itself was not evaluated (the default was served).
 *
 * @since 0.2.0
 */
export const flagFallbacks: ReadonlySet<Fallback> = new Set([
  "InvalidUserId",
  "ClientNotReady",
  "FlagNotFound",
  "WrongType",
  "EvaluationError"
])

/**
 * The error `eval` exits with when the flag could not be evaluated.
 *
 * @since 0.2.0
 */
export const notEvaluated = (settings: Settings, flagKey: string, evaluation: Evaluation<Json>): FlagNotEvaluated =>
  new FlagNotEvaluated({
    flagKey,
    fallback: evaluation.fallback ?? "none",
    problem:
      evaluation.fallback === "FlagNotFound"
        ? `${flagSourceName(settings.flags)} has no flag with this key`
        : `${evaluation.fallback}: ${fallbackCauses[evaluation.fallback ?? "EvaluationError"]}`,
    defaultValue: evaluation.value
  })

/**
 * An evaluation reason in one short line.
 *
 * @since 0.2.0
 */
export const formatReason = (reason: LDEvaluationReason): string => {
  switch (reason.kind) {
    case "RULE_MATCH":
      return `RULE_MATCH (rule ${reason.ruleIndex ?? "?"}${reason.ruleId === undefined ? "" : `, ${reason.ruleId}`})`
    case "PREREQUISITE_FAILED":
      return `PREREQUISITE_FAILED (${reason.prerequisiteKey ?? "?"})`
    case "ERROR":
      return `ERROR (${reason.errorKind ?? "?"})`
    default:
      return reason.kind
  }
}

/**
 * The JSON form of an evaluation.
 *
 * @since 0.2.0
 */
export const evaluationJson = (evaluation: Evaluation<Json>) => ({
  value: evaluation.value,
  reason: evaluation.reason,
  variationIndex: evaluation.variationIndex,
  fallback: evaluation.fallback
})

/**
 * An `--attr` value: JSON when it parses as JSON, else the string.
 *
 * @since 0.2.0
 */
export const attributeValue = (raw: string): Json => {
  try {
    const parsed: unknown = JSON.parse(raw)
    return Schema.is(Schema.Json)(parsed) ? parsed : raw
  } catch {
    return raw
  }
}

/**
 * The `--default` option: JSON, or `null` when absent.
 *
 * @since 0.2.0
 */
export const parseDefault = (raw: Option.Option<string>): Effect.Effect<Json, InvalidOption> =>
  Option.match(raw, {
    onNone: () => Effect.succeed(null),
    onSome: (text) =>
      Effect.try({
        try: () => {
          const parsed: unknown = JSON.parse(text)
          if (!Schema.is(Schema.Json)(parsed)) throw new Error("not JSON")
          return parsed
        },
        catch: () =>
          new InvalidOption({
            option: "--default",
            problem: `not valid JSON: ${text} (quote strings: --default '"text"')`
          })
      })
  })

/** Every flag of the user, each with its evaluation, in the order of `keys` (then any others the SDK has). */
export const evaluateAll = Effect.fn("Cli.evaluateAll")(function* (
  userId: UserId,
  fileKeys: ReadonlyArray<string> | undefined
) {
  const state = yield* FlagClient.allFlags(userId)
  if (state.$valid === false) {
    return yield* new FlagSourceError({ problem: "the LaunchDarkly client could not list the flags" })
  }
  const sdkKeys = Object.keys(state).filter((key) => !key.startsWith("$"))
  const keys = [...(fileKeys ?? []), ...sdkKeys.filter((key) => !(fileKeys ?? []).includes(key))]
  return yield* Effect.forEach(keys, (key) =>
    Effect.map(FlagClient.evaluate(key, userId, null), (evaluation): readonly [string, Evaluation<Json>] => [
      key,
      evaluation
    ])
  )
})

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/**
 * Prints a value as indented JSON on stdout.
 *
 * @since 0.2.0
 */
export const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

/**
 * Prints a user's context as `context` and `check` show it: the id, the fallback (with its reason
 * and root cause when one applied) and the context.
 *
 * @since 0.2.0
 * @category output
 */
export const printResolved = (resolved: ResolvedContext) =>
  printJson({
    userId: resolved.userId,
    fallback: resolved.fallback,
    ...(resolved.reason === undefined ? {} : { reason: resolved.reason }),
    ...(resolved.cause === undefined ? {} : { cause: resolved.cause }),
    context: resolved.context
  })

/**
 * A flag value in a table cell: `#n` for a JSON variation, `*` when a fallback decided it.
 *
 * @since 0.2.0
 */
export const tableValue = (evaluation: Evaluation<Json>): string => {
  const { value, variationIndex } = evaluation
  const text = Predicate.isString(value)
    ? value === ""
      ? '""'
      : value
    : Predicate.isObject(value) && variationIndex !== null
      ? `#${variationIndex}`
      : JSON.stringify(value)
  return evaluation.fallback === null ? text : `${text}*`
}

/**
 * The segments of a user in a table cell, or why there are none.
 *
 * @since 0.2.0
 */
export const segmentsCell = (resolved: ResolvedContext): string =>
  resolved.fallback === null
    ? (resolved.context.segments ?? []).join(", ")
    : resolved.fallback === "UserNotFound"
      ? "(not found)"
      : "(not loaded)"

/**
 * The terminal's width, when stdout is one.
 *
 * @since 0.2.0
 */
export const terminalWidth = (): number | undefined => (process.stdout.isTTY ? process.stdout.columns : undefined)
