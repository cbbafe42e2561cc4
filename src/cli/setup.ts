/**
 * The `setup` command: prepares the embedded Postgres template once per machine.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { Command } from "effect/cli"
import { freshDataDir } from "../embedded/Template.js"

export const setupCommand = Command.make(
  "setup",
  {},
  Effect.fn("Cli.setup")(function* () {
    // Building the template is the slow part of a first embedded start; the copy it returns is dropped.
    yield* Effect.scoped(freshDataDir)
  })
).pipe(
  Command.withDescription(
    "Initialize the embedded Postgres template once per machine, so that later starts take about a second (npm ci runs it)"
  )
)
