import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Stream } from "effect"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { ContextCache } from "../src/ContextCache.js"
import { type Evaluation, type FlagChange, FlagClient, TestFlags } from "../src/FlagClient.js"
import type { UserId } from "../src/User.js"
import { UserRepo } from "../src/UserRepo.js"
import { sleepLive } from "./support/faults.js"
import { eventually, makeUser } from "./support/launchdarkly.js"

const NOW = Date.now()
const ada = makeUser("ada", NOW, 400, ["beta"])
const bob = makeUser("bob", NOW, 400)
const id = (value: string) => value as UserId

const updateListeners = FlagClient.use((client) => Effect.sync(() => client.sdk.listenerCount("update")))

/** Waits until `count` streams listen to the SDK's updates. */
const listening = (count: number) => eventually(updateListeners, (n) => n === count)

/** Runs `stream` in the background, recording what it emits. */
const record = <A, E, R>(stream: Stream.Stream<A, E, R>) =>
  Effect.gen(function* () {
    const seen: Array<A> = []
    const fiber = yield* Stream.runForEach(stream, (a) => Effect.sync(() => seen.push(a))).pipe(Effect.forkChild)
    return { seen, fiber }
  })

const values = <A>(evaluations: ReadonlyArray<Evaluation<A>>) => evaluations.map((evaluation) => evaluation.value)

describe("FlagClient.changes", () => {
  it.live("changes - every updated flag key, from TestData updates; the listener is removed when the stream ends", () =>
    Effect.gen(function* () {
      const flags = yield* TestFlags
      const { seen, fiber } = yield* record(FlagClient.changes)
      yield* listening(1)
      yield* flags.enable("new-checkout")
      yield* flags.set("banner", "hello")
      yield* eventually(
        Effect.sync(() => seen),
        (changes) => changes.length >= 2
      )
      assert.deepStrictEqual(seen, [{ flagKey: "new-checkout" }, { flagKey: "banner" }] satisfies Array<FlagChange>)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* updateListeners, 0)
    }).pipe(Effect.provide(FlagClient.layerTestWith({ users: [ada] })))
  )

  it.live("changes - a stream that ends by itself removes its listener too", () =>
    Effect.gen(function* () {
      const flags = yield* TestFlags
      const first = yield* Stream.runHead(FlagClient.changes).pipe(Effect.forkChild)
      yield* listening(1)
      yield* flags.enable("a")
      const change = yield* Fiber.join(first)
      assert.deepStrictEqual(change._tag === "Some" ? change.value : undefined, { flagKey: "a" })
      assert.strictEqual(yield* updateListeners, 0)
    }).pipe(Effect.provide(FlagClient.layerTestWith()))
  )
})

describe("FlagClient.watch", () => {
  it.live("watch - emits the value now, then only when the user's value changes (TestData)", () =>
    Effect.gen(function* () {
      const flags = yield* TestFlags
      yield* flags.set("banner", "hello")
      const { seen, fiber } = yield* record(FlagClient.watch("banner", id("ada"), "none"))
      yield* eventually(
        Effect.sync(() => seen.length),
        (n) => n === 1
      )
      // An update that leaves the value equal emits nothing; so does an update of another flag.
      yield* flags.set("banner", "hello")
      yield* flags.enable("unrelated")
      yield* sleepLive(200)
      yield* flags.set("banner", "bye")
      yield* eventually(
        Effect.sync(() => seen.length),
        (n) => n >= 2
      )
      yield* sleepLive(100)
      assert.deepStrictEqual(values(seen), ["hello", "bye"])
      assert.deepStrictEqual(
        seen.map((evaluation) => [evaluation.fallback, evaluation.context]),
        [
          [null, "full"],
          [null, "full"]
        ]
      )
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* updateListeners, 0)
    }).pipe(Effect.provide(FlagClient.layerTestWith({ users: [ada] })))
  )

  it.live("watch - per user: a rule change that flips one user's value emits for that user only", () =>
    Effect.gen(function* () {
      const flags = yield* TestFlags
      yield* flags.disable("beta-only")
      const forAda = yield* record(FlagClient.watch("beta-only", id("ada"), false))
      const forBob = yield* record(FlagClient.watch("beta-only", id("bob"), false))
      yield* listening(2)
      yield* eventually(
        Effect.sync(() => forAda.seen.length + forBob.seen.length),
        (n) => n === 2
      )
      yield* flags.enableForSegments("beta-only", ["beta"])
      yield* eventually(
        Effect.sync(() => forAda.seen.length),
        (n) => n === 2
      )
      yield* sleepLive(200)
      assert.deepStrictEqual(values(forAda.seen), [false, true])
      assert.deepStrictEqual(values(forBob.seen), [false])
      yield* Fiber.interrupt(forAda.fiber)
      yield* Fiber.interrupt(forBob.fiber)
      assert.strictEqual(yield* updateListeners, 0)
    }).pipe(Effect.provide(FlagClient.layerTestWith({ users: [ada, bob] })))
  )

  it.live("watch - JSON values compare by content: a re-ordered equal object emits nothing", () =>
    Effect.gen(function* () {
      const flags = yield* TestFlags
      yield* flags.set("limits", { rate: 10, burst: 20 })
      const { seen, fiber } = yield* record(FlagClient.watch("limits", id("ada"), {}))
      yield* eventually(
        Effect.sync(() => seen.length),
        (n) => n === 1
      )
      yield* flags.set("limits", { burst: 20, rate: 10 })
      yield* sleepLive(200)
      yield* flags.set("limits", { rate: 5, burst: 20 })
      yield* eventually(
        Effect.sync(() => seen.length),
        (n) => n >= 2
      )
      assert.deepStrictEqual(values(seen), [
        { rate: 10, burst: 20 },
        { rate: 5, burst: 20 }
      ])
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(FlagClient.layerTestWith({ users: [ada] })))
  )
})

describe("flags file edits", () => {
  const tempDir = Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "efc-changes-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const cache = ContextCache.layer().pipe(
    Layer.provide(Layer.mergeAll(UserRepo.layerMemory([ada]), ContextBuilder.layer()))
  )
  const file = (banner: string, limit: number) => JSON.stringify({ flagValues: { banner, limit } })

  it.live("changes and watch - an edit of the flags file is reported and re-evaluated", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = join(dir, "flags.json")
      writeFileSync(path, file("one", 1))
      yield* Effect.gen(function* () {
        const changes = yield* record(FlagClient.changes)
        const banner = yield* record(FlagClient.watch("banner", id("ada"), "none"))
        yield* listening(2)
        yield* eventually(
          Effect.sync(() => banner.seen.length),
          (n) => n === 1
        )
        writeFileSync(path, file("two", 1))
        yield* eventually(
          Effect.sync(() => banner.seen.length),
          (n) => n >= 2
        )
        assert.deepStrictEqual(values(banner.seen), ["one", "two"])
        assert.include(
          changes.seen.map((change) => change.flagKey),
          "banner"
        )
        yield* Fiber.interrupt(changes.fiber)
        yield* Fiber.interrupt(banner.fiber)
        assert.strictEqual(yield* updateListeners, 0)
      }).pipe(Effect.provide(FlagClient.layerWith({ flagsFile: path }).pipe(Layer.provide(cache))))
    }).pipe(Effect.scoped)
  )
})
