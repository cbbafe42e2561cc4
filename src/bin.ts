#!/usr/bin/env node
/**
 * The `effect-flag-context` executable. The tool's packages are optional peers of the library: when
 * one is missing, this says which to install instead of printing a stack trace.
 *
 * @since 0.1.0
 */
import { missingPackageMessage } from "./cli/Requirements.js"

const FORCED_EXIT_MS = 5_000

// Ctrl-C interrupts the command and runs its finalizers; one that hangs (a connection that never
// closes) must not keep the process alive, so the process ends a few seconds later regardless.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    setTimeout(() => process.exit(signal === "SIGINT" ? 130 : 143), FORCED_EXIT_MS).unref()
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
