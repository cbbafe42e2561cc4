/**
 * The retry policy of the HTTP user repository, exported so that applications can reuse it for
 * their own HTTP calls: exponential backoff with jitter, bounded in attempts and total time,
 * honouring `Retry-After`, and never retrying a 4xx other than 408 and 429.
 *
 * It is built on `HttpClient.retryTransient`: no retry loop is written by hand.
 *
 * @since 0.1.0
 */
import { type Cause, Duration, Effect, Result, Schedule } from "effect"
import * as Headers from "effect/http/Headers"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type { HttpClientResponse } from "effect/http/HttpClientResponse"

/**
 * How hard to try.
 *
 * @since 0.1.0
 * @category models
 */
export interface HttpRetryOptions {
  /** Retries after the first attempt. Default 3. */
  readonly times?: number | undefined
  /** The first backoff delay, doubled on each retry and jittered by ±20%. Default 50 ms. */
  readonly baseDelay?: Duration.Input | undefined
  /**
   * The longest delay between two attempts. Default 1 s. A `Retry-After` up to this long is
   * honoured; a longer one ends the retries, since retrying earlier would be refused anyway.
   */
  readonly maxDelay?: Duration.Input | undefined
  /** No retry starts after this much time has passed since the first failure. Default 5 s. */
  readonly maxElapsed?: Duration.Input | undefined
  /** Bounds each attempt (until the response headers arrive); a timed-out attempt is retried. */
  readonly attemptTimeout?: Duration.Input | undefined
}

/**
 * Whether a failed HTTP call is worth another attempt: transport errors, timeouts, and the
 * statuses 408, 429 and 5xx. Any other status, and a body that does not decode, is final.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isRetryableHttpError = (error: unknown): boolean =>
  HttpClient.isTransientError(error) ||
  (HttpClientError.isHttpClientError(error) &&
    error.reason._tag === "StatusCodeError" &&
    error.reason.response.status >= 500)

/**
 * The delay before the next attempt, read from a failure's `Retry-After` header, if any.
 *
 * @since 0.1.0
 * @category predicates
 */
export const httpRetryAfter = (error: unknown, nowMillis: number): Duration.Duration | undefined => {
  if (!HttpClientError.isHttpClientError(error)) return undefined
  const header = error.response?.headers["retry-after"]
  if (header === undefined) return undefined
  const parsed = Headers.parseRetryAfter(header)
  return Result.isSuccess(parsed) ? Headers.retryAfterDelay(parsed.success, nowMillis) : undefined
}

/**
 * The backoff schedule: exponential from `baseDelay`, jittered, capped at `maxDelay`, at most
 * `times` retries within `maxElapsed`; it stops when a `Retry-After` asks for more than
 * `maxDelay`. `HttpClient.retryTransient` stretches each delay to honour `Retry-After`.
 *
 * @since 0.1.0
 * @category schedules
 */
export const httpRetrySchedule = (options?: HttpRetryOptions): Schedule.Schedule<Duration.Duration, unknown> => {
  const maxDelay = Duration.fromInputUnsafe(options?.maxDelay ?? Duration.seconds(1))
  return Schedule.exponential(options?.baseDelay ?? Duration.millis(50)).pipe(
    Schedule.jittered,
    Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, maxDelay))),
    Schedule.upTo({ times: options?.times ?? 3, duration: options?.maxElapsed ?? Duration.seconds(5) }),
    Schedule.while(({ input, now }) => {
      const delay = httpRetryAfter(input, now)
      return delay === undefined || Duration.isLessThanOrEqualTo(delay, maxDelay)
    })
  )
}

/**
 * Applies the policy to a client: non-2xx answers become `StatusCodeError`s, each attempt is
 * optionally bounded, and {@link isRetryableHttpError} failures are retried on
 * {@link httpRetrySchedule}.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withHttpRetry =
  (options?: HttpRetryOptions) =>
  <E, R>(
    client: HttpClient.HttpClient.With<E, R>
  ): HttpClient.HttpClient.With<E | HttpClientError.HttpClientError | Cause.TimeoutError, R> => {
    const attemptTimeout = options?.attemptTimeout
    const checked = client.pipe(
      HttpClient.filterStatusOk,
      HttpClient.transformResponse(
        (attempt): Effect.Effect<HttpClientResponse, E | HttpClientError.HttpClientError | Cause.TimeoutError, R> =>
          attemptTimeout === undefined ? attempt : Effect.timeout(attempt, attemptTimeout)
      )
    )
    return checked.pipe(
      HttpClient.retryTransient({
        retryOn: "errors-only",
        schedule: httpRetrySchedule(options),
        while: isRetryableHttpError
      })
    )
  }
