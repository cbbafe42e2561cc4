/**
 * The HTTP repository against a real loopback user service (backed by the in-memory layer) with
 * scripted answers. Every test counts the requests the server received.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Context, DateTime, Duration, Effect, Exit, Fiber, Layer, Schedule, Schema } from "effect"
import { FetchHttpClient, HttpClient } from "effect/http"
import { TestClock } from "effect/testing"
import { type HttpRetryOptions, httpRetrySchedule, isRetryableHttpError, withHttpRetry } from "../src/HttpRetry.js"
import { User, UserFromJson, UserFromRow, type UserId } from "../src/User.js"
import { UserRepo, type UserRepoError } from "../src/UserRepo.js"
import { type Answer, UserServer } from "./support/UserServer.js"

const ada = new User({
  id: "user-ada" as UserId,
  email: "ada@example.com",
  email_verified: true,
  name: "Ada",
  created_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
  updated_at: DateTime.makeUnsafe(Date.UTC(2024, 5, 1)),
  metadata: { plan: "pro" }
})
const bob = new User({ ...ada, id: "user-bob" as UserId, email: "bob@example.com", name: "Bob" })
const asJson = Schema.encodeSync(UserFromJson)
const fast: HttpRetryOptions = { baseDelay: "1 millis", times: 3 }

const Server = UserServer.layer.pipe(
  Layer.provide(UserRepo.layerMemoryRows([ada, bob].map((user) => Schema.encodeSync(UserFromRow)(user)))),
  Layer.merge(FetchHttpClient.layer)
)

/** A fresh `layerHttp` on the test server, built into the test's scope. */
const repoWith = (options?: Omit<UserRepo.HttpOptions, "baseUrl">) =>
  Effect.gen(function* () {
    const server = yield* UserServer
    const context = yield* Layer.build(UserRepo.layerHttp({ baseUrl: `${server.url}/`, ...options }))
    return Context.get(context, UserRepo)
  })

/** Clears the server, scripts its next answers, and returns how to read its request paths. */
const script = (...answers: ReadonlyArray<Answer>) =>
  Effect.gen(function* () {
    const server = yield* UserServer
    yield* server.clear
    yield* server.script(answers)
    return server.requests
  })

const reasonOf = (error: { readonly _tag: string }) =>
  error._tag === "UserRepoError" ? (error as UserRepoError).reason : error._tag

layer(Server, { excludeTestServices: true })("UserRepo.layerHttp", (it) => {
  it.effect("500, 500, 200: retried to the user, three requests", () =>
    Effect.gen(function* () {
      const requests = yield* script({ status: 500 }, { status: 500 })
      const user = yield* (yield* repoWith({ retry: fast })).getById(ada.id)
      assert.deepStrictEqual(asJson(user), asJson(ada))
      assert.deepStrictEqual(yield* requests, ["/users/user-ada", "/users/user-ada", "/users/user-ada"])
    })
  )

  it.effect("404: UserNotFound after exactly one request", () =>
    Effect.gen(function* () {
      const requests = yield* script({ status: 404, body: "{}" })
      const error = yield* Effect.flip((yield* repoWith({ retry: fast })).getById(ada.id))
      assert.strictEqual(error._tag, "UserNotFound")
      assert.strictEqual((yield* requests).length, 1)
    })
  )

  it.effect.each([400, 401, 403, 409, 410, 418, 422])("%s: UserRepoError Http after exactly one request", (status) =>
    Effect.gen(function* () {
      const requests = yield* script({ status, body: "{}" })
      const error = yield* Effect.flip((yield* repoWith({ retry: fast })).getById(ada.id))
      assert.strictEqual(reasonOf(error), "Http")
      assert.isFalse((error as UserRepoError).isRetryable)
      assert.strictEqual((yield* requests).length, 1)
    })
  )

  it.effect.each([408, 429, 500, 501, 502, 503, 504, 599])("%s is retried: the user, two requests", (status) =>
    Effect.gen(function* () {
      const requests = yield* script({ status })
      const user = yield* (yield* repoWith({ retry: fast })).getById(ada.id)
      assert.strictEqual(user.id, ada.id)
      assert.strictEqual((yield* requests).length, 2)
    })
  )

  it.effect("a dropped connection is retried: the user, two requests", () =>
    Effect.gen(function* () {
      const requests = yield* script("reset")
      const user = yield* (yield* repoWith({ retry: fast })).getById(ada.id)
      assert.strictEqual(user.id, ada.id)
      assert.strictEqual((yield* requests).length, 2)
    })
  )

  it.effect("attempts are bounded: 503 forever ends as Unavailable after times + 1 requests", () =>
    Effect.gen(function* () {
      const requests = yield* script(...Array.from({ length: 10 }, () => ({ status: 503 })))
      const error = yield* Effect.flip((yield* repoWith({ retry: { ...fast, times: 2 } })).getById(ada.id))
      assert.strictEqual(reasonOf(error), "Unavailable")
      assert.isTrue((error as UserRepoError).isRetryable)
      assert.strictEqual((yield* requests).length, 3)
    })
  )

  it.effect("a body that is not a user: UserRepoError Decode, not retried", () =>
    Effect.gen(function* () {
      for (const body of [JSON.stringify({ id: ada.id, email: 42 }), "<html>not json</html>", ""]) {
        const requests = yield* script({ status: 200, body })
        const error = yield* Effect.flip((yield* repoWith({ retry: fast })).getById(ada.id))
        assert.strictEqual(reasonOf(error), "Decode", body)
        assert.strictEqual((yield* requests).length, 1, body)
      }
    })
  )

  it.effect("a hung server: each attempt times out and is retried, then Timeout", () =>
    Effect.gen(function* () {
      const requests = yield* script("hang", "hang", "hang", "hang")
      const repo = yield* repoWith({ timeout: "2 seconds", retry: { ...fast, times: 2, attemptTimeout: "50 millis" } })
      const started = Date.now()
      const error = yield* Effect.flip(repo.getById(ada.id))
      assert.strictEqual(reasonOf(error), "Timeout")
      assert.strictEqual((yield* requests).length, 3)
      assert.isBelow(Date.now() - started, 1_500)
    })
  )

  it.effect("a hung server without an attempt timeout: the lookup timeout ends it after one request", () =>
    Effect.gen(function* () {
      const requests = yield* script("hang")
      const error = yield* Effect.flip((yield* repoWith({ timeout: "200 millis", retry: fast })).getById(ada.id))
      assert.strictEqual(reasonOf(error), "Timeout")
      assert.strictEqual((yield* requests).length, 1)
    })
  )

  it.effect("429 with Retry-After: 1 waits one second (TestClock) before the second request", () =>
    Effect.gen(function* () {
      const requests = yield* script({ status: 429, headers: { "retry-after": "1" } })
      const repo = yield* repoWith({ timeout: "10 seconds", retry: { ...fast, maxDelay: "2 seconds" } })
      const live = (duration: Duration.Input) => TestClock.withLive(Effect.sleep(duration))
      const fiber = yield* Effect.forkChild(repo.getById(ada.id))
      while ((yield* requests).length === 0) yield* live("5 millis")
      yield* live("100 millis") // the client reads the 429 and starts its backoff
      yield* TestClock.adjust("990 millis")
      yield* live("100 millis")
      assert.strictEqual((yield* requests).length, 1, "no retry before Retry-After has passed")
      yield* TestClock.adjust("20 millis")
      const user = yield* Fiber.join(fiber)
      assert.strictEqual(user.id, ada.id)
      assert.strictEqual((yield* requests).length, 2)
    }).pipe(Effect.provide(TestClock.layer()))
  )

  it.effect("429 with a Retry-After beyond the maximum delay gives up at once: Unavailable, one request", () =>
    Effect.gen(function* () {
      const requests = yield* script({ status: 429, headers: { "retry-after": "120" } })
      const started = Date.now()
      const error = yield* Effect.flip(
        (yield* repoWith({ timeout: "10 seconds", retry: { ...fast, maxDelay: "2 seconds" } })).getById(ada.id)
      )
      assert.strictEqual(reasonOf(error), "Unavailable")
      assert.strictEqual((yield* requests).length, 1)
      assert.isBelow(Date.now() - started, 1_000)
    })
  )

  it.effect("an answer for another user: UserRepoError Http after one request, not that user", () =>
    Effect.gen(function* () {
      const requests = yield* script({ status: 200, body: JSON.stringify(asJson(bob)) })
      const error = yield* Effect.flip((yield* repoWith({ retry: fast })).getById(ada.id))
      assert.strictEqual(reasonOf(error), "Http")
      assert.isFalse((error as UserRepoError).isRetryable)
      assert.include(String((error as UserRepoError).cause), '"user-bob" for "user-ada"')
      assert.strictEqual((yield* requests).length, 1)
    })
  )

  it.effect("a redirect on the same origin is followed: the user, two requests", () =>
    Effect.gen(function* () {
      const requests = yield* script({ status: 302, headers: { location: "/users/user-ada" } })
      const user = yield* (yield* repoWith({ retry: fast })).getById(ada.id)
      assert.deepStrictEqual(asJson(user), asJson(ada))
      assert.deepStrictEqual(yield* requests, ["/users/user-ada", "/users/user-ada"])
    })
  )

  it.effect("a redirect that lands on another user: UserRepoError Http", () =>
    Effect.gen(function* () {
      const requests = yield* script({ status: 301, headers: { location: "/users/user-bob" } })
      const error = yield* Effect.flip((yield* repoWith({ retry: fast })).getById(ada.id))
      assert.strictEqual(reasonOf(error), "Http")
      assert.deepStrictEqual(yield* requests, ["/users/user-ada", "/users/user-bob"])
    })
  )

  it.effect("a redirect loop costs maxRedirects + 1 requests, then UserRepoError Http", () =>
    Effect.gen(function* () {
      const loop = Array.from({ length: 100 }, () => ({ status: 307, headers: { location: "/users/user-ada" } }))
      for (const [maxRedirects, expected] of [
        [undefined, 4],
        [0, 1],
        [1, 2]
      ] as const) {
        const requests = yield* script(...loop)
        const error = yield* Effect.flip((yield* repoWith({ retry: fast, maxRedirects })).getById(ada.id))
        assert.strictEqual(reasonOf(error), "Http")
        assert.include(String((error as UserRepoError).cause), "redirects")
        assert.strictEqual((yield* requests).length, expected)
      }
    })
  )

  it.effect("an application's own RequestInit (redirect: follow) does not make fetch follow redirects", () =>
    Effect.gen(function* () {
      const loop = Array.from({ length: 30 }, () => ({ status: 302, headers: { location: "/users/user-ada" } }))
      const requests = yield* script(...loop)
      const error = yield* Effect.flip(
        (yield* repoWith({ retry: fast }))
          .getById(ada.id)
          .pipe(Effect.provideService(FetchHttpClient.RequestInit, { redirect: "follow", keepalive: false }))
      )
      assert.strictEqual(reasonOf(error), "Http")
      assert.strictEqual((yield* requests).length, 4)
    })
  )

  it.effect("a redirect to another origin is refused without following it", () =>
    Effect.gen(function* () {
      const server = yield* UserServer
      const elsewhere = server.url.replace("127.0.0.1", "localhost")
      for (const location of [`${elsewhere}/users/user-ada`, "//localhost/users/user-ada", "https://127.0.0.1/"]) {
        const requests = yield* script({ status: 302, headers: { location } })
        const error = yield* Effect.flip((yield* repoWith({ retry: fast })).getById(ada.id))
        assert.strictEqual(reasonOf(error), "Http", location)
        assert.include(String((error as UserRepoError).cause), "another origin")
        assert.strictEqual((yield* requests).length, 1, location)
      }
    })
  )

  it.effect("a body over maxBodyBytes is refused (Http); one at the cap is read", () =>
    Effect.gen(function* () {
      const padded = JSON.stringify(asJson(new User({ ...ada, metadata: { pad: "x".repeat(2_000) } })))
      const repo = yield* repoWith({ retry: fast, maxBodyBytes: padded.length - 1 })
      yield* script({ status: 200, body: padded })
      assert.strictEqual(reasonOf(yield* Effect.flip(repo.getById(ada.id))), "Http")
      yield* script({ status: 200, body: padded })
      const user = yield* (yield* repoWith({ retry: fast, maxBodyBytes: padded.length })).getById(ada.id)
      assert.deepStrictEqual(user.metadata, { pad: "x".repeat(2_000) })
    })
  )

  it.effect("an endless body without Content-Length is cut at the cap, not buffered", () =>
    Effect.gen(function* () {
      const server = yield* UserServer
      const requests = yield* script({ flood: 512 * 1024 * 1024 })
      const error = yield* Effect.flip((yield* repoWith({ retry: fast, timeout: "10 seconds" })).getById(ada.id))
      assert.strictEqual(reasonOf(error), "Http")
      assert.include(String((error as UserRepoError).cause), "larger than 1048576 bytes")
      assert.strictEqual((yield* requests).length, 1)
      // What the kernel's socket buffers absorbed, not the 512 MiB offered.
      assert.isBelow(yield* server.flooded, 64 * 1024 * 1024)
    })
  )

  it.effect("maxRedirects and maxBodyBytes that are not non-negative integers fail the layer's build", () =>
    Effect.gen(function* () {
      for (const options of [{ maxRedirects: -1 }, { maxRedirects: Number.NaN }, { maxBodyBytes: Infinity }]) {
        const exit = yield* Effect.exit(repoWith(options))
        assert.isTrue(Exit.isFailure(exit), JSON.stringify(options))
        if (Exit.isFailure(exit)) assert.include(Cause.pretty(exit.cause), "must be a non-negative integer")
      }
    })
  )

  it.effect("ids are URL-encoded into one path segment", () =>
    Effect.gen(function* () {
      const requests = yield* script()
      const repo = yield* repoWith({ retry: fast })
      for (const id of ["../admin", "a/b?c=d#e", "%00", "é x"]) {
        assert.strictEqual((yield* Effect.flip(repo.getById(id)))._tag, "UserNotFound")
      }
      assert.deepStrictEqual(yield* requests, [
        "/users/..%2Fadmin",
        "/users/a%2Fb%3Fc%3Dd%23e",
        "/users/%2500",
        "/users/%C3%A9%20x"
      ])
    })
  )

  it.effect("ids a URL cannot carry (. and ..) fail without a request", () =>
    Effect.gen(function* () {
      const requests = yield* script()
      const repo = yield* repoWith({ retry: fast })
      for (const id of [".", ".."]) assert.strictEqual(reasonOf(yield* Effect.flip(repo.getById(id))), "Http")
      assert.strictEqual((yield* requests).length, 0)
    })
  )

  it.effect("withHttpRetry is reusable on an application's own client", () =>
    Effect.gen(function* () {
      const server = yield* UserServer
      const requests = yield* script({ status: 503 }, { status: 404 })
      const client = (yield* HttpClient.HttpClient).pipe(withHttpRetry(fast))
      const error = yield* Effect.flip(client.get(`${server.url}/users/anything`))
      assert.strictEqual(error._tag, "HttpClientError")
      assert.isFalse(isRetryableHttpError(error))
      assert.strictEqual((yield* requests).length, 2)
    })
  )
})

describe("httpRetrySchedule", () => {
  it.effect("backs off exponentially with jitter, capped at maxDelay, for at most `times` retries", () =>
    Effect.gen(function* () {
      const step = yield* Schedule.toStep(
        httpRetrySchedule({ baseDelay: "100 millis", maxDelay: "300 millis", times: 4 })
      )
      const delays: Array<number> = []
      for (;;) {
        const next = yield* Effect.result(step(0, new Error("transient")))
        if (next._tag === "Failure") break
        delays.push(Duration.toMillis(next.success[1]))
      }
      assert.strictEqual(delays.length, 4)
      const [first, second, third, fourth] = delays as [number, number, number, number]
      assert.isTrue(first >= 80 && first <= 120, `${first}`)
      assert.isTrue(second >= 160 && second <= 240, `${second}`)
      assert.strictEqual(third, 300)
      assert.strictEqual(fourth, 300)
    })
  )

  it("isRetryableHttpError: timeouts yes, anything that is not an HTTP failure no", () => {
    assert.isTrue(isRetryableHttpError(new Cause.TimeoutError()))
    assert.isFalse(isRetryableHttpError(new Error("boom")))
  })
})
