/**
 * A fresh data directory for the embedded Postgres, copied from a template cached per machine.
 *
 * PGlite initializes an empty database cluster (`initdb`) on every in-memory start, which costs
 * about 6–8 seconds of CPU and ≈ 750 MB of memory on a small machine; a copy of an initialized
 * cluster starts in about one. The template lives in `$XDG_CACHE_HOME/effect-flag-context` (default
 * `~/.cache/...`), keyed by the PGlite version, and is built once, by the first start that needs it
 * (with a log line saying so). Each start gets its own copy (in `/dev/shm` when there is one),
 * removed when its scope closes, so starts never share state and may run concurrently.
 *
 * Plain `node:fs`, so that the library's embedded entry needs no platform layer.
 *
 * @since 0.2.0
 */
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import { homedir, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { Effect, Predicate, type Scope } from "effect"

const cacheRoot = (): string => {
  const xdg = process.env["XDG_CACHE_HOME"]
  return xdg !== undefined && xdg !== "" ? xdg : join(homedir(), ".cache")
}

// The installed PGlite's version: a template made by another version is not reused.
const pgliteVersion = (): string => {
  let dir = dirname(createRequire(import.meta.url).resolve("@electric-sql/pglite"))
  for (;;) {
    const path = join(dir, "package.json")
    if (Fs.existsSync(path)) {
      const manifest: unknown = JSON.parse(Fs.readFileSync(path, "utf8"))
      if (Predicate.hasProperty(manifest, "name") && manifest.name === "@electric-sql/pglite") {
        return Predicate.hasProperty(manifest, "version") && Predicate.isString(manifest.version)
          ? manifest.version
          : "unknown"
      }
    }
    const parent = dirname(dir)
    if (parent === dir) return "unknown"
    dir = parent
  }
}

/**
 * The directory of this machine's template for the installed PGlite.
 *
 * @since 0.2.0
 * @category embedded
 */
export const templateDir = (): string => join(cacheRoot(), "effect-flag-context", `pglite-${pgliteVersion()}`)

const buildTemplate = Effect.fnUntraced(function* (template: string) {
  yield* Effect.logInfo(
    `initializing the embedded Postgres template in ${template} (once per machine, about 10 s; later starts copy it)`
  )
  const { PGlite } = yield* Effect.promise(() => import("@electric-sql/pglite"))
  yield* Effect.tryPromise(async () => {
    await Fs.promises.mkdir(dirname(template), { recursive: true })
    const building = `${template}.building-${process.pid}-${Date.now()}`
    try {
      const db = await PGlite.create(building)
      await db.close()
      // Another start may have finished first: keep its template and drop ours.
      await Fs.promises.rename(building, template).catch(() => undefined)
    } finally {
      await Fs.promises.rm(building, { recursive: true, force: true })
    }
  })
})

const scratchDir = Effect.acquireRelease(
  Effect.tryPromise(async () => {
    const shm = "/dev/shm"
    // Memory-backed when the system has it: the copy is then mostly free of disk writes.
    const base = Fs.existsSync(shm) ? shm : tmpdir()
    return await Fs.promises
      .mkdtemp(join(base, "effect-flag-context-pglite-"))
      .catch(() => Fs.promises.mkdtemp(join(tmpdir(), "effect-flag-context-pglite-")))
  }),
  (dir) => Effect.promise(() => Fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined))
)

/**
 * The path of a fresh, initialized PGlite data directory, removed when the scope closes; `undefined`
 * (PGlite then initializes in memory) when the cache can't be used.
 *
 * @since 0.2.0
 * @category embedded
 */
export const freshDataDir: Effect.Effect<string | undefined, never, Scope.Scope> = Effect.gen(function* () {
  const template = yield* Effect.try(templateDir)
  if (!Fs.existsSync(join(template, "PG_VERSION"))) yield* buildTemplate(template)
  const work = yield* scratchDir
  // The scope removes it; this covers a process that exits before its scope closes.
  const onExit = () => Fs.rmSync(work, { recursive: true, force: true })
  process.once("exit", onExit)
  yield* Effect.addFinalizer(() => Effect.sync(() => process.removeListener("exit", onExit)))
  const dataDir = join(work, "data")
  yield* Effect.tryPromise(() => Fs.promises.cp(template, dataDir, { recursive: true }))
  return dataDir
}).pipe(
  Effect.catch((error) =>
    Effect.as(
      Effect.logWarning("the embedded Postgres template can't be used; initializing in memory (slower)").pipe(
        Effect.annotateLogs({ error: String(error) })
      ),
      undefined
    )
  )
)
