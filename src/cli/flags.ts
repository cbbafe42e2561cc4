/**
 * The `flags` command: every flag for one user.
 *
 * @since 0.2.0
 */
import { Console, Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import {
  checkUserId,
  describeFallback,
  evaluateAll,
  evaluationJson,
  formatReason,
  printJson,
  resolveContext
} from "./output.js"
import { withFlags } from "./runtime.js"
import { resolveSettings, root } from "./settings.js"
import { renderTable } from "./Table.js"

/**
 * The `flags` command.
 *
 * @since 0.2.0
 */
export const flagsCommand = Command.make(
  "flags",
  {
    userId: Argument.String("userId").pipe(Argument.withDescription("The user's id")),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the evaluations as JSON"), Flag.withDefault(false))
  },
  Effect.fn("Cli.flags")(function* ({ userId, json }) {
    const settings = yield* resolveSettings(yield* root, "other")
    const id = yield* checkUserId(userId)
    yield* withFlags(settings, (fileKeys) =>
      Effect.gen(function* () {
        const all = yield* evaluateAll(id, fileKeys)
        const resolved = yield* resolveContext(id, {})
        if (json) {
          return yield* printJson({
            userId: id,
            fallback: resolved.fallback,
            flags: Object.fromEntries(all.map(([key, evaluation]) => [key, evaluationJson(evaluation)]))
          })
        }
        yield* Console.log(
          `flags for ${id} (${resolved.fallback === null ? "full context" : `${resolved.fallback}: ${describeFallback(resolved.fallback)}`})`
        )
        yield* Console.log(
          renderTable(
            [{ header: "flag" }, { header: "value" }, { header: "reason" }, { header: "fallback" }],
            all.map(([key, evaluation]) => [
              key,
              JSON.stringify(evaluation.value),
              formatReason(evaluation.reason),
              evaluation.fallback ?? ""
            ])
          )
        )
      })
    )
  })
).pipe(Command.withDescription("Evaluate every flag for a user"))
