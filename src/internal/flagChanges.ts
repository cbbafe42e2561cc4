/**
 * The SDK's flag-change events as streams: a listener on the client's `update` event for as long
 * as a stream runs, removed when it ends.
 *
 * @internal
 */
import type { LDClient } from "@launchdarkly/node-server-sdk"
import { type Cause, Effect, Queue, Stream } from "effect"

interface UpdateEvent {
  readonly key: string
}

// Listens to `update` while the stream's scope is open. `onListening` runs once the listener is
// on, so that nothing updated after it can be missed.
const updates = <A>(
  sdk: LDClient,
  select: (key: string) => A | undefined,
  onListening: (queue: Queue.Queue<A, Cause.Done>) => void,
  options?: { readonly bufferSize: number; readonly strategy: "sliding" }
): Stream.Stream<A> =>
  Stream.callback<A>(
    (queue) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const listener = (event: UpdateEvent): void => {
            const selected = select(event.key)
            if (selected !== undefined) Queue.offerUnsafe(queue, selected)
          }
          sdk.on("update", listener)
          onListening(queue)
          return listener
        }),
        (listener) => Effect.sync(() => sdk.off("update", listener))
      ),
    options
  )

/** The key of every flag the SDK reports updated (a flag, or a flag or segment it depends on). */
export const flagUpdates = (sdk: LDClient): Stream.Stream<string> =>
  updates(
    sdk,
    (key) => key,
    () => {}
  )

const TICK = "tick" as const

/**
 * `evaluate` once now and again after each update of `flagKey`, emitting only when `equal` says
 * the answer changed. Updates that arrive while an evaluation runs are coalesced into one.
 */
export const watchFlag = <A>(
  sdk: LDClient,
  flagKey: string,
  evaluate: Effect.Effect<A>,
  equal: (self: A, that: A) => boolean
): Stream.Stream<A> =>
  updates(
    sdk,
    (key) => (key === flagKey ? TICK : undefined),
    (queue) => Queue.offerUnsafe(queue, TICK),
    { bufferSize: 1, strategy: "sliding" }
  ).pipe(
    Stream.mapEffect(() => evaluate),
    Stream.changesWith(equal)
  )

/** Structural equality of JSON values (object keys in any order). */
export const jsonEquals = (self: unknown, that: unknown): boolean => {
  if (self === that) return true
  if (typeof self !== "object" || typeof that !== "object" || self === null || that === null) return false
  if (Array.isArray(self)) {
    if (!Array.isArray(that) || self.length !== that.length) return false
    for (let i = 0; i < self.length; i++) if (!jsonEquals(self[i], that[i])) return false
    return true
  }
  if (Array.isArray(that)) return false
  const a = self as Record<string, unknown>
  const b = that as Record<string, unknown>
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  for (const key of keys) if (!Object.hasOwn(b, key) || !jsonEquals(a[key], b[key])) return false
  return true
}
