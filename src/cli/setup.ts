/**
 * The `setup` command: with a database, creates the user table (and seeds it with --seed); without
 * one, prepares the embedded Postgres template once per machine.
 *
 * @since 0.2.0
 */
import { Console, Effect } from "effect"
import { Command } from "effect/cli"
import { freshDataDir, templateDir } from "../embedded/Template.js"
import { withTable } from "./runtime.js"
import { displayPath, resolveSettings, root } from "./settings.js"

/**
 * The `setup` command.
 *
 * @since 0.2.0
 * @category commands
 */
export const setupCommand = Command.make(
  "setup",
  {},
  Effect.fn("Cli.setup")(function* () {
    const settings = yield* resolveSettings(yield* root, "setup")
    if (settings.database._tag === "Embedded") {
      // Building the template is the slow part of a first embedded start; the copy it returns is dropped.
      yield* Effect.scoped(freshDataDir)
      return yield* Console.log(`the embedded Postgres template is ready in ${templateDir()}`)
    }
    yield* withTable(settings, Effect.void)
    yield* Console.log(
      `the user table ${settings.table ?? '"User"'} is ready at ${settings.database.address}${
        settings.seed ? `, with the users of ${displayPath(settings.usersFile)}` : ""
      }`
    )
  })
).pipe(
  Command.withDescription(
    "With --database-url: create the user table if it is missing (with --seed, load --users into it). Without: initialize the embedded Postgres template once per machine (the first embedded start does it too)"
  )
)
