/**
 * A private copy of the flags file for the SDK's file data source to watch.
 *
 * The SDK watches the file itself: when the file is deleted its watcher rejects a promise nobody
 * handles (an unhandled rejection ends a Node process), and when the file is replaced by a rename
 * (how editors and deploy tools write) it keeps watching the old file. So the SDK watches a copy
 * that only this module writes, in place; this module watches the user's directory, and copies the
 * file over only when it reads and parses. A deleted, half-written or invalid file leaves the last
 * good flags in place.
 */
import { copyFileSync, type FSWatcher, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, dirname, join } from "node:path"
import { Effect, type Scope } from "effect"
import { parse as parseYaml } from "yaml"

const parses = (path: string, text: string): boolean => {
  try {
    if (/\.ya?ml$/i.test(path)) parseYaml(text)
    else JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/**
 * The path the SDK should read: a mirrored copy of `path`, kept in step while the scope is open;
 * `path` itself when it can't be copied (the SDK then reports the problem with the user's path).
 */
export const mirrorFlagsFile = (path: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function* () {
    const mirrorDir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "effect-flag-context-flags-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    const mirror = join(mirrorDir, basename(path))
    const copied = yield* Effect.sync(() => {
      try {
        copyFileSync(path, mirror)
        return true
      } catch {
        return false
      }
    })
    if (!copied) return path
    const run = Effect.runForkWith(yield* Effect.context<never>())
    let last = readFileSync(mirror, "utf8")
    let pending: ReturnType<typeof setTimeout> | undefined
    const sync = () => {
      pending = undefined
      let text: string
      try {
        text = readFileSync(path, "utf8")
      } catch {
        return // deleted or unreadable: keep the last good flags
      }
      if (text === last) return
      if (!parses(path, text)) {
        run(
          Effect.logError(
            `error processing files: the flags file ${path} is not valid ${/\.ya?ml$/i.test(path) ? "YAML" : "JSON"}; the last good flags are kept`
          )
        )
        return
      }
      last = text
      writeFileSync(mirror, text)
    }
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        watch(dirname(path), { persistent: false }, (_event, name) => {
          if (name !== null && name.toString() !== basename(path)) return
          if (pending !== undefined) clearTimeout(pending)
          pending = setTimeout(sync, 20)
        })
      ),
      (watcher: FSWatcher) =>
        Effect.sync(() => {
          if (pending !== undefined) clearTimeout(pending)
          watcher.close()
        })
    )
    return mirror
  })
