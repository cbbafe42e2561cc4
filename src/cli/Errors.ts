/**
 * The errors of the command-line tool. Each one says what went wrong and what to do about it in
 * one line, which `Command.run` prints (without a stack trace) before exiting with status 1.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { CliError } from "effect/cli"

/**
 * The users file is missing, is not JSON, or has a row that does not decode.
 *
 * @since 0.1.0
 * @category errors
 */
export class UsersFileError extends Schema.TaggedError<UsersFileError>()("UsersFileError", {
  path: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    return `users file ${this.path}: ${this.problem}`
  }
  override get [CliError.userMessage](): string {
    return this.message
  }
}

/**
 * The flags file is missing or is not valid JSON/YAML flag data.
 *
 * @since 0.1.0
 * @category errors
 */
export class FlagsFileError extends Schema.TaggedError<FlagsFileError>()("FlagsFileError", {
  path: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    return `flags file ${this.path}: ${this.problem}`
  }
  override get [CliError.userMessage](): string {
    return this.message
  }
}

/**
 * Postgres could not be reached (`action` is `"connect"`) or refused what the tool asked of it.
 *
 * @since 0.1.0
 * @category errors
 */
export class DatabaseError extends Schema.TaggedError<DatabaseError>()("DatabaseError", {
  /** `host:port`, or `embedded`. */
  address: Schema.String,
  action: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    return this.action === "connect"
      ? `cannot reach Postgres at ${this.address}: ${this.problem} (check --database-url / DATABASE_URL, and that the server is running)`
      : `Postgres at ${this.address}: could not ${this.action}: ${this.problem}`
  }
  override get [CliError.userMessage](): string {
    return this.message
  }
}

/**
 * The user id given on the command line is not a valid user id.
 *
 * @since 0.1.0
 * @category errors
 */
export class BadUserId extends Schema.TaggedError<BadUserId>()("BadUserId", {
  userId: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    const shown = this.userId.length > 40 ? `${this.userId.slice(0, 40)}…` : this.userId
    return `invalid user id ${JSON.stringify(shown)}: ${this.problem}`
  }
  override get [CliError.userMessage](): string {
    return this.message
  }
}

/**
 * The flag could not be evaluated (unknown flag, wrong type, SDK error): the default was served.
 *
 * @since 0.1.0
 * @category errors
 */
export class FlagNotEvaluated extends Schema.TaggedError<FlagNotEvaluated>()("FlagNotEvaluated", {
  flagKey: Schema.String,
  fallback: Schema.String,
  problem: Schema.String,
  defaultValue: Schema.Json
}) {
  override get message(): string {
    return `${this.fallback === "FlagNotFound" ? "unknown flag" : "flag"} ${JSON.stringify(this.flagKey)}: ${
      this.problem
    }; the default was served: ${JSON.stringify(this.defaultValue)}`
  }
  override get [CliError.userMessage](): string {
    return this.message
  }
}

/**
 * The LaunchDarkly client has nothing to evaluate with, or did not initialize.
 *
 * @since 0.1.0
 * @category errors
 */
export class FlagSourceError extends Schema.TaggedError<FlagSourceError>()("FlagSourceError", {
  problem: Schema.String
}) {
  override get message(): string {
    return this.problem
  }
  override get [CliError.userMessage](): string {
    return this.message
  }
}

/**
 * An option or environment variable has a value the tool can't use.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOption extends Schema.TaggedError<InvalidOption>()("InvalidOption", {
  option: Schema.String,
  problem: Schema.String
}) {
  override get message(): string {
    return `${this.option}: ${this.problem}`
  }
  override get [CliError.userMessage](): string {
    return this.message
  }
}

/**
 * Any error of the command-line tool.
 *
 * @since 0.1.0
 * @category errors
 */
export type CliFailure =
  | UsersFileError
  | FlagsFileError
  | DatabaseError
  | BadUserId
  | FlagNotEvaluated
  | FlagSourceError
  | InvalidOption
