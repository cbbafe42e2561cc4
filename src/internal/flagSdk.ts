/**
 * The LaunchDarkly SDK boundary: the only code that calls the SDK's evaluation, catches what it
 * throws, and turns its reasons into our fallbacks.
 *
 * @internal
 */
import type {
  LDClient,
  LDContext,
  LDEvaluationDetail,
  LDEvaluationReason,
  LDLogger
} from "@launchdarkly/node-server-sdk"
import { type Context, Effect, type Fiber } from "effect"
import { format } from "node:util"

/** A fallback the SDK's answer can cause. */
export type SdkFallback = "ClientNotReady" | "FlagNotFound" | "WrongType" | "EvaluationError"

/** The SDK threw synchronously instead of answering. */
export class SdkThrew {
  constructor(readonly cause: unknown) {}
}

// `variationDetail` calls its callback synchronously whenever the flag store answers synchronously
// (the in-memory store of streaming, polling, TestData and file data sources). One shared slot and
// one shared callback avoid a closure per call. A callback that fires late (an asynchronous store)
// can only run between two calls, never inside the synchronous window of one: each call clears the
// slot before asking, so a late answer is never mistaken for the current one. It is read from the
// returned promise instead.
let slot: LDEvaluationDetail | undefined
const capture = (_error: unknown, detail: LDEvaluationDetail): void => {
  slot = detail
}

// Even when it answers synchronously, `variationDetail` returns the promise of an `async` function
// (its hook runner), whose settling takes a few microtasks. An `await` per call drains them as they
// come; a fiber running evaluations back to back does not return to the event loop for up to
// 2048 operations, and meanwhile the promises of hundreds of evaluations pile up (measured: a
// synchronous answer costs about 40% more then). So every `SETTLE_EVERY` synchronous answers the
// caller waits for the SDK's promise of the last one (see `settleDue`): the fiber returns to the
// microtask queue, which the pending promises leave first.
const SETTLE_EVERY = 64
let unsettled = 0
let lastPromise: Promise<LDEvaluationDetail> | undefined

/**
 * Asks the SDK for a flag's value with its reason. Returns the answer when the SDK gave it
 * synchronously, the SDK's promise when it did not, and {@link SdkThrew} when it threw.
 */
export const variationDetailNow = (
  client: LDClient,
  flagKey: string,
  context: LDContext,
  defaultValue: unknown
): LDEvaluationDetail | Promise<LDEvaluationDetail> | SdkThrew => {
  slot = undefined
  let promise: Promise<LDEvaluationDetail>
  try {
    promise = client.variationDetail(flagKey, context, defaultValue, capture)
  } catch (cause) {
    return new SdkThrew(cause)
  }
  const detail = slot
  slot = undefined
  if (detail === undefined) return promise
  lastPromise = promise
  return detail
}

/**
 * The SDK's promise of the last synchronous answer, once every {@link SETTLE_EVERY} synchronous
 * answers: the caller should wait for it before going on (it always resolves; see
 * {@link afterSettling}). `undefined` the rest of the time, and always in a fiber whose scheduler is
 * synchronous (`runSync` can't wait for a promise: there the promises pile up until it returns).
 */
export const settleDue = (fiber: Fiber.Fiber<unknown, unknown>): Promise<unknown> | undefined => {
  if (++unsettled < SETTLE_EVERY) return undefined
  unsettled = 0
  const promise = lastPromise
  lastPromise = undefined
  return fiber.cache.scheduler.executionMode === "sync" ? undefined : promise
}

/** `effect`, once `promise` (from {@link settleDue}) has settled. */
export const afterSettling = <A>(promise: Promise<unknown>, effect: Effect.Effect<A>): Effect.Effect<A> =>
  Effect.callback<A>((resume) => {
    const done = () => resume(effect)
    promise.then(done, done)
  })

/** The fallback an SDK reason stands for; `null` for a real evaluation. */
export const sdkFallback = (reason: LDEvaluationReason): SdkFallback | null => {
  if (reason.kind !== "ERROR") return null
  switch (reason.errorKind) {
    case "CLIENT_NOT_READY":
      return "ClientNotReady"
    case "FLAG_NOT_FOUND":
      return "FlagNotFound"
    case "WRONG_TYPE":
      return "WrongType"
    default:
      return "EvaluationError"
  }
}

/** The reason reported when the flag's value does not have the type the caller asked for. */
export const wrongTypeReason: LDEvaluationReason = Object.freeze({ kind: "ERROR", errorKind: "WRONG_TYPE" })

/** The reason reported when the SDK threw. */
export const exceptionReason: LDEvaluationReason = Object.freeze({ kind: "ERROR", errorKind: "EXCEPTION" })

/** The reason reported when the user id is not valid, so no context could be built. */
export const invalidContextReason: LDEvaluationReason = Object.freeze({
  kind: "ERROR",
  errorKind: "USER_NOT_SPECIFIED"
})

const REPEAT_WINDOW_MS = 60_000
const MAX_REMEMBERED = 1_000
// A double-quoted part of a message, such as a flag key.
const QUOTED = /"(?:[^"\\]|\\.)*"/g

/**
 * An `LDLogger` that writes into Effect's logger (with the services of `context`, so the
 * application's logger and minimum level apply). The SDK repeats some messages on every
 * evaluation (for example while it is not initialized), and some name the caller's input (an
 * unknown flag key): messages are grouped by their text with quoted parts blanked, and each group
 * is written at most once a minute, with the number of lines it held back. 100,000 distinct unknown
 * flag keys write one line a minute, not 100,000. SDK `info` and `debug` lines go to `Debug`.
 */
export const effectLogger = (context: Context.Context<never>): LDLogger => {
  const groups = new Map<string, { at: number; suppressed: number }>()
  const run = Effect.runForkWith(context)
  const write = (log: (message: string) => Effect.Effect<void>, args: ReadonlyArray<unknown>): void => {
    const message = format(...args)
    const template = message.replace(QUOTED, '"…"')
    const now = Date.now()
    const group = groups.get(template)
    if (group !== undefined && now - group.at < REPEAT_WINDOW_MS) {
      group.suppressed++
      return
    }
    if (groups.size >= MAX_REMEMBERED) groups.clear()
    groups.set(template, { at: now, suppressed: 0 })
    const line = log(message).pipe(Effect.annotateLogs("source", "launchdarkly-sdk"))
    run(
      group === undefined || group.suppressed === 0 ? line : Effect.annotateLogs(line, "suppressed", group.suppressed)
    )
  }
  // One failure tends to be described by several SDK error lines (a 401 gives "Authentication
  // failed" and "giving up permanently"): the first is an error, the rest of the window warnings,
  // so that an alert on errors fires once per failure, and nothing is hidden.
  let lastError: number | undefined
  const error = (message: string): Effect.Effect<void> => {
    const now = Date.now()
    const burst = lastError !== undefined && now - lastError < REPEAT_WINDOW_MS
    if (!burst) lastError = now
    return burst ? Effect.logWarning(message) : Effect.logError(message)
  }
  return {
    error: (...args) => write(error, args),
    warn: (...args) => write(Effect.logWarning, args),
    info: (...args) => write(Effect.logDebug, args),
    debug: (...args) => write(Effect.logDebug, args)
  }
}
