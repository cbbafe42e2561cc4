/**
 * The `eval` command: one flag for one user, its value, reason and fallback.
 *
 * @since 0.2.0
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import type { Evaluation } from "../FlagClient.js"
import { FlagClient } from "../FlagClient.js"
import { idOnlyContext, withRequestAttributes } from "../Segmentation.js"
import type { Json } from "../User.js"
import {
  attributeValue,
  checkUserId,
  describeFallback,
  evaluationJson,
  flagFallbacks,
  formatReason,
  notEvaluated,
  parseDefault,
  printJson,
  resolveContext
} from "./output.js"
import { withFlags } from "./runtime.js"
import { resolveSettings, root } from "./settings.js"

/**
 * The `eval` command.
 *
 * @since 0.2.0
 */
export const evalCommand = Command.make(
  "eval",
  {
    flagKey: Argument.String("flagKey").pipe(Argument.withDescription("The flag's key")),
    userId: Argument.String("userId").pipe(Argument.withDescription("The user's id")),
    attr: Flag.KeyValuePair("attr").pipe(
      Flag.withDescription(
        'An attribute added for this evaluation; repeatable. A value that parses as JSON is JSON (3, true, ["a"]), else a string'
      ),
      Flag.optional
    ),
    role: Flag.String("role").pipe(
      Flag.withDescription("Sets the role attribute and adds it to the segments, for this evaluation"),
      Flag.optional
    ),
    defaultValue: Flag.String("default").pipe(
      Flag.withMetavar("json"),
      Flag.withDescription("The default, as JSON; its type is the type expected of the flag (default: null, any type)"),
      Flag.optional
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print the evaluation as JSON"), Flag.withDefault(false))
  },
  Effect.fn("Cli.eval")(function* ({ flagKey, userId, attr, role, defaultValue, json }) {
    const settings = yield* resolveSettings(yield* root, "other")
    const id = yield* checkUserId(userId)
    const fallbackValue = yield* parseDefault(defaultValue)
    const attributes = Option.map(attr, (pairs) =>
      Object.fromEntries(Object.entries(pairs).map(([key, value]) => [key, attributeValue(value)]))
    )
    const request = { attributes: Option.getOrUndefined(attributes), role: Option.getOrUndefined(role) }
    yield* withFlags(settings, () =>
      Effect.gen(function* () {
        const evaluation: Evaluation<Json> = yield* FlagClient.evaluate(flagKey, id, fallbackValue, request)
        // The context the SDK was given: the cached one (a hit now), or the id alone.
        const context =
          evaluation.context === "full"
            ? (yield* resolveContext(id, request)).context
            : withRequestAttributes(idOnlyContext(id), request)
        const failed = evaluation.fallback !== null && flagFallbacks.has(evaluation.fallback)
        if (json) {
          yield* printJson({
            flagKey,
            userId: id,
            ...evaluationJson(evaluation),
            contextKind: evaluation.context,
            context
          })
        } else if (!failed) {
          const fallback =
            evaluation.fallback === null ? "none" : `${evaluation.fallback}: ${describeFallback(evaluation.fallback)}`
          yield* Console.log(
            [
              `${flagKey} = ${JSON.stringify(evaluation.value)}`,
              `  user       ${id} (${evaluation.context} context)`,
              `  reason     ${formatReason(evaluation.reason)}`,
              `  variation  ${evaluation.variationIndex ?? "none (the default)"}`,
              `  fallback   ${fallback}`,
              ...(evaluation.context === "full" ? [`  segments   ${(context.segments ?? []).join(", ")}`] : [])
            ].join("\n")
          )
        }
        if (failed) return yield* notEvaluated(settings, flagKey, evaluation)
      })
    )
  })
).pipe(
  Command.withDescription(
    "Evaluate one flag for a user: the value, the reason and the fallback. Exits 1 when the flag itself could not be evaluated (unknown flag, wrong type)"
  ),
  Command.withExamples([
    { command: "effect-flag-context eval beta-dashboard ada", description: "A boolean flag" },
    {
      command: "effect-flag-context eval checkout-config barbara --attr region=eu --json",
      description: "With a request attribute, as JSON"
    }
  ])
)
