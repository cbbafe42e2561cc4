#!/usr/bin/env node
/**
 * The `effect-flag-context` executable: the command-line tool of `Cli`, on Node.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, Runtime } from "effect"
import { run } from "./cli/main.js"

const FORCED_EXIT_MS = 5_000

// Ctrl-C interrupts the command and runs its finalizers; one that hangs (a connection that never
// closes) must not keep the process alive, so the process ends a few seconds later regardless.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    setTimeout(() => process.exit(signal === "SIGINT" ? 130 : 143), FORCED_EXIT_MS).unref()
  })
}

run.pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({
    // Once the command is done, so is the process: a socket left open can't keep it alive.
    teardown: (exit, onExit) =>
      Runtime.defaultTeardown(exit, (code) => {
        setTimeout(() => process.exit(code), 1_000).unref()
        onExit(code)
      })
  })
)
