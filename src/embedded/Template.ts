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
import { spawn } from "node:child_process"
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

// PGlite's initdb is seconds of synchronous WebAssembly: run in the same thread, it would hold off
// the process's signal handlers until it ends. A child process keeps this one responsive, and is
// killed when the build is interrupted.
const INITDB = `const { PGlite } = require(process.argv[1])
PGlite.create(process.argv[2]).then((db) => db.close()).catch((error) => { console.error(String(error)); process.exit(1) })`

const initdb = (building: string) =>
  Effect.callback<void, Error>((resume) => {
    const child = spawn(
      process.execPath,
      ["-e", INITDB, createRequire(import.meta.url).resolve("@electric-sql/pglite"), building],
      { stdio: ["ignore", "ignore", "pipe"] }
    )
    let stderr = ""
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2_000)
    })
    child.once("error", (error) => resume(Effect.fail(error)))
    child.once("exit", (code, signal) =>
      resume(
        code === 0
          ? Effect.void
          : Effect.fail(new Error(`initdb exited with ${signal ?? code}: ${stderr.trim() || "no output"}`))
      )
    )
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  })

const buildTemplate = Effect.fnUntraced(function* (template: string) {
  yield* Effect.logInfo(
    `initializing the embedded Postgres template in ${template} (once per machine, about 10 s; later starts copy it)`
  )
  yield* Effect.tryPromise(() => Fs.promises.mkdir(dirname(template), { recursive: true }))
  const building = `${template}.building-${process.pid}-${Date.now()}`
  yield* initdb(building).pipe(
    // Another start may have finished first: keep its template and drop ours.
    Effect.andThen(Effect.promise(() => Fs.promises.rename(building, template).catch(() => undefined))),
    Effect.ensuring(Effect.promise(() => Fs.promises.rm(building, { recursive: true, force: true })))
  )
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
