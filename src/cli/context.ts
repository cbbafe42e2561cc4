/**
 * The `context` command: the LaunchDarkly context a user gets, as JSON, with the fallback that applied.
 *
 * @since 0.2.0
 */
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { checkUserId, printResolved, resolveContext } from "./output.js"
import { withContexts } from "./runtime.js"
import { resolveSettings, root } from "./settings.js"

/**
 * The `context` command.
 *
 * @since 0.2.0
 */
export const contextCommand = Command.make(
  "context",
  { userId: Argument.String("userId").pipe(Argument.withDescription("The user's id")) },
  Effect.fn("Cli.context")(function* ({ userId }) {
    const settings = yield* resolveSettings(yield* root, "other")
    const id = yield* checkUserId(userId)
    const resolved = yield* withContexts(settings, resolveContext(id, {}))
    yield* printResolved(resolved)
  })
).pipe(
  Command.withDescription(
    "Print the LaunchDarkly context that would be sent for a user, as JSON, with the fallback that applied"
  ),
  Command.withExamples([{ command: "effect-flag-context context ada", description: "The context of an example user" }])
)
