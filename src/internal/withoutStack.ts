/**
 * Errors made in bulk on the miss path (a lookup timed out, no such user) without a stack trace.
 *
 * Capturing a stack costs ≈ 10 µs per error here, more than the rest of a miss; a burst that
 * times out makes one error per waiting caller, and the stack (a timer's, or the resolver's) says
 * nothing about the caller anyway. The limit is restored before anything else runs.
 *
 * @internal
 */
export const withoutStack = <A>(make: () => A): A => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return make()
  } finally {
    Error.stackTraceLimit = limit
  }
}
