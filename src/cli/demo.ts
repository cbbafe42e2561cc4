/**
 * The `demo` command (what `npm start` runs): every flag for every user of the users file, as a table.
 *
 * @since 0.2.0
 */
import { Console, Effect, Predicate } from "effect"
import { Command, Flag } from "effect/cli"
import {
  checkUserId,
  describeFallback,
  evaluateAll,
  evaluationJson,
  printJson,
  resolveContext,
  segmentsCell,
  tableValue,
  terminalWidth
} from "./output.js"
import { flagSourceName, withFlags } from "./runtime.js"
import { displayPath, resolveSettings, root } from "./settings.js"
import { renderTable } from "./Table.js"
import { loadUsersFile } from "./UsersFile.js"

/**
 * The `demo` command.
 *
 * @since 0.2.0
 */
export const demoCommand = Command.make(
  "demo",
  {
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("Print the users and evaluations as JSON"),
      Flag.withDefault(false)
    )
  },
  Effect.fn("Cli.demo")(function* ({ json }) {
    const settings = yield* resolveSettings(yield* root, "demo")
    const file = yield* loadUsersFile(settings.usersFile)
    const ids = [...file.users.map((user) => user.id), ...file.absentIds]
    const rows = yield* withFlags(
      settings,
      (fileKeys) =>
        Effect.forEach(
          ids,
          (userId) =>
            Effect.gen(function* () {
              const id = yield* checkUserId(userId)
              const evaluations = yield* evaluateAll(id, fileKeys)
              const resolved = yield* resolveContext(id, {})
              return { resolved, evaluations }
            }),
          // Concurrent on purpose: the repository batches the lookups into one query.
          { concurrency: "unbounded" }
        ),
      file
    )
    if (json) {
      return yield* printJson(
        rows.map(({ resolved, evaluations }) => ({
          userId: resolved.userId,
          fallback: resolved.fallback,
          context: resolved.context,
          flags: Object.fromEntries(evaluations.map(([key, evaluation]) => [key, evaluationJson(evaluation)]))
        }))
      )
    }

    const flagKeys = Array.from(new Set(rows.flatMap(({ evaluations }) => evaluations.map(([key]) => key))))
    const rules = settings.rules
    const sourceLine =
      settings.database._tag === "Embedded"
        ? `${displayPath(file.path)} → embedded Postgres (${file.users.length} users, ${file.absentIds.length} absent)`
        : `${settings.database.address}${settings.seed ? `, seeded from ${displayPath(file.path)}` : ""} (ids from ${displayPath(file.path)})`
    yield* Console.log("effect-flag-context demo")
    yield* Console.log(`  users  ${sourceLine}`)
    yield* Console.log(`  flags  ${flagSourceName(settings.flags)} (${flagKeys.length} flags, LaunchDarkly SDK)`)
    yield* Console.log(
      `  rules  employee domains: ${rules.employeeDomains.join(", ") || "none"}; system users: ${
        rules.systemUserIds.join(", ") || "none"
      }; new_user < ${rules.newUserDays} days, recent_user < ${rules.recentUserDays} days`
    )
    yield* Console.log("")
    yield* Console.log(
      renderTable(
        [
          { header: "user" },
          { header: "age" },
          { header: "segments", wrap: true },
          ...flagKeys.map((header) => ({ header }))
        ],
        rows.map(({ resolved, evaluations }) => {
          const byKey = new Map(evaluations)
          const age = resolved.context["account_age_days"]
          return [
            resolved.userId,
            typeof age === "number" ? String(age) : "-",
            segmentsCell(resolved),
            ...flagKeys.map((key) => {
              const evaluation = byKey.get(key)
              return evaluation === undefined ? "" : tableValue(evaluation)
            })
          ]
        }),
        { maxWidth: terminalWidth() }
      )
    )

    const legend: Array<string> = []
    const fallbacks = rows.flatMap(({ resolved, evaluations }) => {
      const seen = new Set(
        evaluations.flatMap(([, evaluation]) => (evaluation.fallback === null ? [] : [evaluation.fallback]))
      )
      return Array.from(seen, (fallback) => `    ${resolved.userId}: ${fallback} (${describeFallback(fallback)})`)
    })
    if (fallbacks.length > 0) legend.push("  *  a fallback applied:", ...fallbacks)
    const variations = new Map<string, string>()
    for (const { evaluations } of rows) {
      for (const [key, evaluation] of evaluations) {
        if (Predicate.isObject(evaluation.value) && evaluation.variationIndex !== null) {
          variations.set(`${key} #${evaluation.variationIndex}`, JSON.stringify(evaluation.value))
        }
      }
    }
    if (variations.size > 0) {
      legend.push(
        "  #n variation n of a JSON flag:",
        ...Array.from(variations)
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([name, value]) => `    ${name} = ${value}`)
      )
    }
    if (legend.length > 0) yield* Console.log(["", ...legend].join("\n"))
  })
).pipe(
  Command.withDescription(
    "Evaluate every flag for every user of --users (plus its absentIds) and print a table. On an embedded Postgres unless --database-url is given"
  )
)
