/**
 * A fresh data directory for the embedded Postgres, copied from a template cached per machine.
 *
 * PGlite initializes an empty database cluster (`initdb`) on every in-memory start, which costs
 * about 8 seconds of CPU on a small machine; a copy of an initialized cluster starts in about one.
 * The template lives in `$XDG_CACHE_HOME/effect-flag-context` (default `~/.cache/...`), keyed by
 * the PGlite version, and is built once, by the first run that needs it. Each run gets its own
 * copy (in `/dev/shm` when there is one), removed when it ends, so runs never share state and may
 * run concurrently.
 *
 * @since 0.1.0
 */
import { rmSync } from "node:fs"
import { homedir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect, FileSystem, Predicate } from "effect"

const cacheRoot = (): string => {
  const xdg = process.env["XDG_CACHE_HOME"]
  return xdg !== undefined && xdg !== "" ? xdg : join(homedir(), ".cache")
}

const pgliteVersion = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const entry = yield* Effect.try(() => fileURLToPath(import.meta.resolve("@electric-sql/pglite")))
  const text = yield* fs.readFileString(join(dirname(entry), "..", "package.json"))
  const manifest = yield* Effect.try((): unknown => JSON.parse(text))
  return Predicate.hasProperty(manifest, "version") && Predicate.isString(manifest.version)
    ? manifest.version
    : "unknown"
})

const buildTemplate = Effect.fnUntraced(function* (template: string) {
  const fs = yield* FileSystem.FileSystem
  yield* fs.makeDirectory(dirname(template), { recursive: true })
  const building = `${template}.building-${process.pid}-${Date.now()}`
  yield* Effect.logInfo(`initializing the embedded Postgres template in ${template} (once per machine, about 10 s)`)
  const { PGlite } = yield* Effect.promise(() => import("@electric-sql/pglite"))
  yield* Effect.tryPromise(async () => {
    const db = await PGlite.create(building)
    await db.close()
  })
  // Another run may have finished first: keep its template and drop ours.
  yield* fs.rename(building, template).pipe(Effect.catch(() => fs.remove(building, { recursive: true })))
})

/**
 * The path of a fresh, initialized PGlite data directory, removed when the scope closes; `undefined`
 * (PGlite then initializes in memory) when the cache can't be used.
 *
 * @since 0.1.0
 * @category embedded
 */
export const freshDataDir = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const template = join(cacheRoot(), "effect-flag-context", `pglite-${yield* pgliteVersion}`)
  if (!(yield* fs.exists(join(template, "PG_VERSION")))) yield* buildTemplate(template)
  // Memory-backed when the system has it: the copy is then mostly free of disk writes.
  const shm = (yield* fs.exists("/dev/shm").pipe(Effect.orElseSucceed(() => false))) ? "/dev/shm" : undefined
  const work = yield* fs
    .makeTempDirectoryScoped({ directory: shm, prefix: "effect-flag-context-pglite-" })
    .pipe(Effect.catch(() => fs.makeTempDirectoryScoped({ prefix: "effect-flag-context-pglite-" })))
  // The scope removes it; this covers a process that exits before its scope closes.
  process.once("exit", () => rmSync(work, { recursive: true, force: true }))
  const dataDir = join(work, "data")
  yield* fs.copy(template, dataDir)
  return dataDir
}).pipe(
  Effect.catch((error) =>
    Effect.as(
      Effect.logDebug("the embedded Postgres template can't be used; initializing in memory").pipe(
        Effect.annotateLogs({ error: String(error) })
      ),
      undefined
    )
  )
)
