#!/usr/bin/env node
/**
 * The `effect-flag-context` executable. The tool's packages are optional peers of the library: when
 * one is missing, this says which to install instead of printing a stack trace.
 *
 * @since 0.1.0
 */
import { missingPackageMessage } from "./cli/Requirements.js"

const FORCED_EXIT_MS = 3_000

// The first Ctrl-C or SIGTERM interrupts the command and runs its finalizers; one that hangs (a
// connection that never closes) must not keep the process alive, so it ends a few seconds later
// regardless. Not by `process.exit`, which can hang too (it waits for Node's thread pool, where a
// blocked system call may sit): the exit handlers run (temporary files), then the process dies of
// the signal it was sent.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    setTimeout(() => {
      process.emit("exit", signal === "SIGINT" ? 130 : 143)
      process.removeAllListeners(signal)
      process.kill(process.pid, signal)
    }, FORCED_EXIT_MS).unref()
  })
}

try {
  const { main } = await import("./cli/node.js")
  main()
} catch (error) {
  const message = missingPackageMessage(error)
  if (message === undefined) throw error
  process.stderr.write(`${message}\n`)
  process.exitCode = 1
}
