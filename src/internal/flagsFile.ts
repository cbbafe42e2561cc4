/**
 * The SDK's file data source, made safe to run in a long-lived process: its file watcher rejects
 * unhandled when the file disappears (a Node process then exits), stops seeing changes once the
 * file is deleted or replaced by a rename (as editors and config tools save), and misses a change
 * that keeps the file's modification time.
 *
 * @internal
 */
import { integrations } from "@launchdarkly/node-server-sdk"

type Factory = ReturnType<integrations.FileDataSourceFactory["getFactory"]>
type ClientContext = Parameters<Factory>[0]
type Filesystem = NonNullable<ClientContext["platform"]["fileSystem"]>
type WatchHandle = ReturnType<Filesystem["watch"]>

const REWATCH_MS = 100

// Runs the SDK's watch callback, which is an `async` function despite its `void` type: its
// rejection (a `stat` of a file that is gone) must not become an unhandled rejection.
const safely = (callback: (eventType: string, filename: string) => void, eventType: string, filename: string) => {
  try {
    const result: unknown = callback(eventType, filename)
    if (result instanceof Promise) result.catch(() => {})
  } catch {
    // The next event, or the next rewatch, reads the file again.
  }
}

/**
 * Watches `path` itself rather than the file first found there: after a `rename` event (the file
 * was deleted or replaced) the watch is set again on whatever is at `path`, retried until a file
 * is there, and the SDK is told to look once it is.
 */
const watchPath = (fileSystem: Filesystem, path: string, callback: (eventType: string, filename: string) => void) => {
  let current: WatchHandle | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  let closed = false
  const rewatchSoon = () => {
    if (closed || timer !== undefined) return
    timer = setTimeout(() => {
      timer = undefined
      if (arm()) safely(callback, "change", path)
    }, REWATCH_MS)
    timer.unref?.()
  }
  const arm = (): boolean => {
    if (closed) return false
    current?.close()
    current = undefined
    try {
      current = fileSystem.watch(path, (eventType, filename) => {
        safely(callback, eventType, filename)
        if (eventType === "rename") rewatchSoon()
      })
      return true
    } catch {
      // Nothing at `path` yet.
      rewatchSoon()
      return false
    }
  }
  arm()
  return {
    close: () => {
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      current?.close()
    }
  }
}

// The SDK reloads a file only when its "timestamp" changes, and file times are coarse (a write in
// the same tick as the last one keeps the time): a stamp of the content changes exactly when it does.
const contentStamp = (text: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0
  return hash + (text.length % 0x100000) * 0x100000000
}

const resilient = (fileSystem: Filesystem): Filesystem => ({
  getFileTimestamp: (path) => fileSystem.readFile(path).then(contentStamp),
  readFile: (path) => fileSystem.readFile(path),
  watch: (path, callback) => watchPath(fileSystem, path, callback)
})

/** The `updateProcessor` serving `path` (JSON, or YAML with `yamlParser`), reloaded whenever the file changes. */
export const flagsFileDataSource = (path: string, yamlParser: (text: string) => unknown): Factory => {
  const factory = new integrations.FileDataSourceFactory({ paths: [path], autoUpdate: true, yamlParser }).getFactory()
  return (context, featureStore, initSuccessHandler, errorHandler) => {
    const fileSystem = context.platform.fileSystem
    return factory(
      fileSystem === undefined
        ? context
        : {
            basicConfiguration: context.basicConfiguration,
            platform: { ...context.platform, fileSystem: resilient(fileSystem) }
          },
      featureStore,
      initSuccessHandler,
      errorHandler
    )
  }
}
