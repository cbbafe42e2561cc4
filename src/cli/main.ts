/**
 * The `effect-flag-context` command-line tool: the contexts this library builds and the flags they
 * get, from a terminal, on the same layers an application uses. One module per command.
 *
 * Without `--database-url` it runs on an embedded Postgres seeded from the example users, with the
 * example flags and rules, so that `npm start` needs no server and no SDK key.
 *
 * @since 0.2.0
 */
import { Cause, Effect, Logger, Predicate, References } from "effect"
import { Command } from "effect/cli"
import { checkCommand } from "./check.js"
import { contextCommand } from "./context.js"
import { demoCommand } from "./demo.js"
import { evalCommand } from "./eval.js"
import { flagsCommand } from "./flags.js"
import { root, version } from "./settings.js"
import { setupCommand } from "./setup.js"

/**
 * The root command and its subcommands.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = root.pipe(
  Command.withSubcommands([contextCommand, evalCommand, flagsCommand, demoCommand, checkCommand, setupCommand])
)

const formatAnnotation = (value: unknown): string => (Predicate.isString(value) ? value : JSON.stringify(value))

/**
 * Log lines on stderr, one per entry, without timestamps or fibers: `warn: message (key=value)`.
 *
 * @since 0.1.0
 * @category logging
 */
export const stderrLogger = Logger.withConsoleError(
  Logger.make(({ logLevel, message, fiber, cause }) => {
    const text = (Array.isArray(message) ? message : [message]).map(formatAnnotation).join(" ")
    const annotations = Object.entries(fiber.getRef(References.CurrentLogAnnotations))
      .map(([key, value]) => `${key}=${formatAnnotation(value)}`)
      .join(", ")
    const failure = cause.reasons.length > 0 ? `: ${String(Cause.squash(cause))}` : ""
    return `${logLevel.toLowerCase()}: ${text}${failure}${annotations === "" ? "" : ` (${annotations})`}`
  })
)

/**
 * Runs the tool on the process's arguments. Needs the platform's services (`NodeServices.layer`).
 *
 * @since 0.1.0
 * @category running
 */
export const run = Command.run(command, { version }).pipe(Effect.provide(Logger.layer([stderrLogger])))
