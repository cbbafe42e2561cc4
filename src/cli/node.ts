/**
 * The tool on Node: the platform's services, its runtime, and a teardown that lets the process end.
 * Loaded by `bin.ts` once it knows `@effect/platform-node` is installed.
 *
 * @since 0.2.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect, Runtime } from "effect"
import { run } from "./main.js"

/**
 * Runs the tool on the process's arguments and exits with its status.
 *
 * @since 0.2.0
 * @category running
 */
export const main = (): void =>
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
