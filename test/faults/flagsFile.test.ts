/**
 * Fault suite: the flags file of the SDK's file data source (`FlagClient.layerWith({ flagsFile })`,
 * reloaded on change) is broken while the client runs. The last good flags must keep being served,
 * and a good file must be picked up again, on the same client.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ContextBuilder } from "../../src/ContextBuilder.js"
import { ContextCache } from "../../src/ContextCache.js"
import { FlagClient } from "../../src/FlagClient.js"
import type { UserId } from "../../src/User.js"
import { UserRepo } from "../../src/UserRepo.js"
import { sleepLive, watchProcess } from "../support/faults.js"
import { captureLogs, eventually, type LogLine, makeUser, segmentFlag } from "../support/launchdarkly.js"

const NOW = Date.now()
const present = makeUser("present", NOW, 10, ["beta"])
const userId = present.id as UserId
const VARIANT = segmentFlag("variant", "beta", ["beta-variant", "everyone-variant"])

const cache = ContextCache.layer().pipe(
  Layer.provide(Layer.mergeAll(UserRepo.layerMemory([present]), ContextBuilder.layer()))
)

/** A flags file: a full flag with a segment rule, and a simple value that each version changes. */
const good = (banner: string) => JSON.stringify({ flags: { variant: VARIANT }, flagValues: { banner } })

const goodYaml = (banner: string) => `flagValues:\n  banner: ${JSON.stringify(banner)}\n`

/** What the client serves now: the banner, and the rule-based flag for a full context. */
const served = Effect.gen(function* () {
  const banner = yield* FlagClient.evaluate("banner", userId, "none")
  const variant = yield* FlagClient.evaluate("variant", userId, "none")
  return { banner: banner.value, variant: variant.value, fallbacks: [banner.fallback, variant.fallback] }
})

/** Log lines that report a problem (a warning or worse): a broken file must be reported, at either level. */
const fileErrors = (lines: ReadonlyArray<LogLine>) =>
  lines.filter((line) => line.level === "Warn" || line.level === "Error" || line.level === "Fatal").length

/**
 * Holds for a while: every evaluation in the next `millis` serves `banner` (and `variant`, when the
 * file has that flag), with no fallback.
 */
const keepsServing = (banner: string, variant: string | null, millis: number) =>
  Effect.gen(function* () {
    const deadline = Date.now() + millis
    for (let i = 0; i < 1_000 && Date.now() < deadline; i++) {
      const now = yield* served
      assert.strictEqual(now.banner, banner)
      assert.strictEqual(now.fallbacks[0], null)
      if (variant !== null) {
        assert.strictEqual(now.variant, variant)
        assert.strictEqual(now.fallbacks[1], null)
      }
      yield* sleepLive(20)
    }
  })

const withFlagsFile = (path: string) => FlagClient.layerWith({ flagsFile: path }).pipe(Layer.provide(cache))

/** A flags file with `content`, alone in a fresh directory (so a rename inside it is atomic); removed with the scope. */
const tempFile = (name: string, content: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(join(tmpdir(), "efc-faults-"))
      const path = join(dir, name)
      writeFileSync(path, content)
      return { dir, path }
    }),
    ({ dir }) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )

/**
 * Writes `content` to `path` after a pause: file times are coarse (a few milliseconds) and the SDK
 * sees a change only when the time changes, so a write in the same tick as the last one would go
 * unseen (a case of its own, below). The other tests are about what they name, not about that.
 */
const rewrite = (path: string, content: string) =>
  Effect.andThen(
    sleepLive(30),
    Effect.sync(() => writeFileSync(path, content))
  )

// JSON that does not parse, or parses to something that is not a flags document.
const broken: ReadonlyArray<readonly [string, string]> = [
  ["truncated JSON", `{"flagValues": {"banner": "sum`],
  ["an empty file (a write caught halfway)", ""],
  ["not JSON at all", "<<<<<<< HEAD\nflagValues: ???"],
  ["JSON null", "null"],
  [
    "a flag defined twice",
    JSON.stringify({ flags: { banner: { ...VARIANT, key: "banner" } }, flagValues: { banner: "dup" } })
  ]
]

describe("faults - flags file", () => {
  it.live("changed to invalid content while running - the last good flags are served; fixed - the new ones are", () =>
    Effect.gen(function* () {
      const watch = yield* watchProcess
      const { path } = yield* tempFile("flags.json", good("v0"))
      const logs = captureLogs()
      yield* Effect.gen(function* () {
        assert.deepStrictEqual(yield* served, {
          banner: "v0",
          variant: "beta-variant",
          fallbacks: [null, null]
        })
        let version = 0
        for (const [what, content] of broken) {
          const errorsBefore = fileErrors(logs.lines)
          yield* rewrite(path, content)
          // The broken file was read and reported ...
          yield* eventually(
            Effect.sync(() => fileErrors(logs.lines)),
            (n) => n > errorsBefore,
            "5 seconds"
          ).pipe(Effect.mapError(() => new Error(`${what} was never reported`)))
          // ... and keeps serving the last good flags.
          yield* keepsServing(`v${version}`, "beta-variant", 150)
          assert.isTrue(yield* FlagClient.use((client) => client.initialized))

          version++
          yield* rewrite(path, good(`v${version}`))
          const next = `v${version}`
          yield* eventually(served, (now) => now.banner === next, "5 seconds").pipe(
            Effect.mapError(() => new Error(`the good file after ${what} was not picked up`))
          )
          yield* keepsServing(next, "beta-variant", 50)
        }
      }).pipe(Effect.provide(withFlagsFile(path)), Effect.provide(logs.layer))
      assert.deepStrictEqual(watch.problems(), [])
    })
  )

  it.live("a YAML flags file changed to invalid YAML - the last good flags are served; fixed - the new ones are", () =>
    Effect.gen(function* () {
      const watch = yield* watchProcess
      const { path } = yield* tempFile("flags.yaml", goodYaml("y0"))
      const logs = captureLogs()
      yield* Effect.gen(function* () {
        assert.strictEqual((yield* served).banner, "y0")
        yield* rewrite(path, "flagValues:\n  banner: [unclosed\n  - : :\n")
        yield* eventually(
          Effect.sync(() => fileErrors(logs.lines)),
          (n) => n > 0,
          "5 seconds"
        )
        yield* keepsServing("y0", null, 150)
        yield* rewrite(path, goodYaml("y1"))
        yield* eventually(served, (now) => now.banner === "y1", "5 seconds")
      }).pipe(Effect.provide(withFlagsFile(path)), Effect.provide(logs.layer))
      assert.deepStrictEqual(watch.problems(), [])
    })
  )

  it.live(
    "deleted while running - no unhandled rejection (a Node process would exit), the last good flags served",
    () =>
      Effect.gen(function* () {
        const watch = yield* watchProcess
        const { path } = yield* tempFile("flags.json", good("d0"))
        yield* Effect.gen(function* () {
          assert.strictEqual((yield* served).banner, "d0")
          rmSync(path)
          yield* keepsServing("d0", "beta-variant", 300)
        }).pipe(Effect.provide(withFlagsFile(path)), Effect.provide(captureLogs().layer))
        assert.deepStrictEqual(watch.problems(), [])
      })
  )

  it.live("deleted while running, then written back - the new flags are served", () =>
    Effect.gen(function* () {
      const watch = yield* watchProcess
      const { path } = yield* tempFile("flags.json", good("d0"))
      yield* Effect.gen(function* () {
        assert.strictEqual((yield* served).banner, "d0")
        rmSync(path)
        yield* sleepLive(200)
        yield* rewrite(path, good("d1"))
        yield* eventually(served, (now) => now.banner === "d1", "5 seconds").pipe(
          Effect.mapError(() => new Error("a flags file written back after a delete is never picked up"))
        )
      }).pipe(Effect.provide(withFlagsFile(path)), Effect.provide(captureLogs().layer))
      assert.deepStrictEqual(watch.problems(), [])
    })
  )

  it.live("replaced atomically (written aside, renamed over) twice - each new version is served", () =>
    Effect.gen(function* () {
      const watch = yield* watchProcess
      const { dir, path } = yield* tempFile("flags.json", good("r0"))
      const replace = (banner: string) =>
        Effect.andThen(
          sleepLive(30),
          Effect.sync(() => {
            writeFileSync(join(dir, "flags.json.tmp"), good(banner))
            renameSync(join(dir, "flags.json.tmp"), path)
          })
        )
      yield* Effect.gen(function* () {
        assert.strictEqual((yield* served).banner, "r0")
        for (const banner of ["r1", "r2"]) {
          yield* replace(banner)
          yield* eventually(served, (now) => now.banner === banner, "5 seconds").pipe(
            Effect.mapError(() => new Error(`the replacement ${banner} was never picked up`))
          )
          yield* sleepLive(100)
        }
      }).pipe(Effect.provide(withFlagsFile(path)), Effect.provide(captureLogs().layer))
      assert.deepStrictEqual(watch.problems(), [])
    })
  )

  it.live("changed twice within one tick of the file clock - the second version is served too", () =>
    Effect.gen(function* () {
      const watch = yield* watchProcess
      const { path } = yield* tempFile("flags.json", good("t0"))
      yield* Effect.gen(function* () {
        assert.strictEqual((yield* served).banner, "t0")
        yield* rewrite(path, good("t1"))
        yield* eventually(served, (now) => now.banner === "t1", "5 seconds")
        // A second write within the same tick leaves the modification time as it was. Modelled
        // deterministically: the time is pinned to a whole second, which the SDK takes in, and
        // the next write gets the same time back at once.
        const pinned = new Date(Date.UTC(2025, 0, 1))
        utimesSync(path, pinned, pinned)
        yield* sleepLive(200)
        assert.strictEqual((yield* served).banner, "t1")
        writeFileSync(path, good("t2"))
        utimesSync(path, pinned, pinned)
        yield* eventually(served, (now) => now.banner === "t2", "3 seconds").pipe(
          Effect.mapError(() => new Error("a change that kept the file's modification time is never picked up"))
        )
      }).pipe(Effect.provide(withFlagsFile(path)), Effect.provide(captureLogs().layer))
      assert.deepStrictEqual(watch.problems(), [])
    })
  )

  it.live("mounted like a Kubernetes ConfigMap (a symlink swapped to a new directory) - each update is served", () =>
    Effect.gen(function* () {
      const watch = yield* watchProcess
      const { dir } = yield* tempFile("unused", "")
      // <dir>/flags.json -> ..data/flags.json, ..data -> ..v0: an update writes ..vN, points a new
      // link at it, renames the link over ..data and removes the old directory, as the kubelet does.
      const version = (n: number, banner: string) => {
        mkdirSync(join(dir, `..v${n}`))
        writeFileSync(join(dir, `..v${n}`, "flags.json"), good(banner))
      }
      version(0, "k0")
      symlinkSync(`..v0`, join(dir, "..data"))
      symlinkSync(join("..data", "flags.json"), join(dir, "flags.json"))
      const update = (n: number, banner: string) =>
        Effect.andThen(
          sleepLive(30),
          Effect.sync(() => {
            version(n, banner)
            symlinkSync(`..v${n}`, join(dir, "..data_tmp"))
            renameSync(join(dir, "..data_tmp"), join(dir, "..data"))
            rmSync(join(dir, `..v${n - 1}`), { recursive: true, force: true })
          })
        )
      yield* Effect.gen(function* () {
        assert.strictEqual((yield* served).banner, "k0")
        for (const [n, banner] of [
          [1, "k1"],
          [2, "k2"]
        ] as const) {
          yield* update(n, banner)
          yield* eventually(served, (now) => now.banner === banner, "5 seconds").pipe(
            Effect.mapError(() => new Error(`the ConfigMap update ${banner} was never picked up`))
          )
        }
      }).pipe(Effect.provide(withFlagsFile(join(dir, "flags.json"))), Effect.provide(captureLogs().layer))
      assert.deepStrictEqual(watch.problems(), [])
    })
  )
})
