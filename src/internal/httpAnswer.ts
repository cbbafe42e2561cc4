/**
 * What the HTTP user repository accepts from the user service: redirects are followed here, a
 * bounded number of times and never to another origin, and a body is read only up to a byte cap.
 *
 * @internal
 */
import { Context, Effect, Stream } from "effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type { HttpClientResponse } from "effect/http/HttpClientResponse"

/** The user service's answer was refused: the message says why. Never retried. */
export class HttpAnswerRejected extends Error {
  readonly _tag = "HttpAnswerRejected"
}

/**
 * `fetch` follows up to 20 redirects itself, to any host, and ends a loop with a transport error
 * that the retry policy retries (84 requests for one lookup): ask it for the 3xx answer instead,
 * keeping the rest of any `RequestInit` the application set. Other clients ignore `RequestInit`.
 */
export const manualRedirects = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  client.pipe(
    HttpClient.transformResponse((response) =>
      Effect.contextWith((context: Context.Context<never>) =>
        Effect.provideService(response, FetchHttpClient.RequestInit, {
          ...Context.getOrUndefined(context, FetchHttpClient.RequestInit),
          redirect: "manual"
        })
      )
    )
  )

/**
 * The `Location` of a redirect, from the `StatusCodeError` that `filterStatusOk` makes of it, or
 * `undefined` for any other failure.
 */
export const redirectLocation = (error: unknown): string | undefined => {
  if (!HttpClientError.isHttpClientError(error) || error.reason._tag !== "StatusCodeError") return undefined
  const { status, headers } = error.reason.response
  return status >= 300 && status < 400 ? headers.location : undefined
}

/** A count option, checked once when the layer is built: a bad value is a configuration defect. */
export const checkCount = (name: string, value: number | undefined, fallback: number): number => {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`UserRepo.layerHttp: ${name} must be a non-negative integer, got ${value}`)
  }
  return value
}

/**
 * Resolves a redirect's `Location` against the URL that answered it; refuses a target on another
 * origin (scheme, host or port), where another service would answer for this user.
 */
export const sameOriginTarget = (location: string, from: string, origin: string): string | HttpAnswerRejected => {
  let url: URL
  try {
    url = new URL(location, from)
  } catch {
    return new HttpAnswerRejected(`redirect to an invalid location ${JSON.stringify(location)}`)
  }
  if (url.origin !== origin) {
    return new HttpAnswerRejected(`redirect to another origin (${url.origin}, expected ${origin}) refused`)
  }
  return url.href
}

/**
 * Reads a body of at most `maxBytes` bytes: a larger declared `Content-Length` is refused before
 * reading, and the stream is cut as soon as it passes the cap, so memory stays bounded.
 */
export const readBounded = (
  response: HttpClientResponse,
  maxBytes: number
): Effect.Effect<string, HttpClientError.HttpClientError | HttpAnswerRejected> => {
  const tooLarge = () => new HttpAnswerRejected(`answer body larger than ${maxBytes} bytes refused`)
  const declared = Number(response.headers["content-length"])
  if (Number.isFinite(declared) && declared > maxBytes) return Effect.fail(tooLarge())
  return response.stream.pipe(
    Stream.runFoldEffect(
      () => ({ chunks: [] as Array<Uint8Array>, size: 0 }),
      (acc, chunk: Uint8Array) => {
        acc.size += chunk.byteLength
        if (acc.size > maxBytes) return Effect.fail(tooLarge())
        acc.chunks.push(chunk)
        return Effect.succeed(acc)
      }
    ),
    Effect.map(({ chunks }) => {
      const decoder = new TextDecoder()
      let text = ""
      for (const chunk of chunks) text += decoder.decode(chunk, { stream: true })
      return text + decoder.decode()
    })
  )
}
