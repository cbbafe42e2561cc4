/**
 * The packages the command-line tool and the embedded database need beyond the library. They are
 * optional peers: an application that only evaluates flags never installs them.
 *
 * @since 0.2.0
 */
import { Predicate } from "effect"

/**
 * The optional peers, with what needs them.
 *
 * @since 0.2.0
 * @category constants
 */
export const optionalPeers = {
  "@effect/platform-node": "the command-line tool",
  "@electric-sql/pglite": "the embedded Postgres (no --database-url)",
  "@electric-sql/pglite-socket": "the embedded Postgres (no --database-url)"
} as const

/**
 * The optional peer a module-loading failure is about, if any.
 *
 * @since 0.2.0
 * @category errors
 */
export const missingPeer = (error: unknown): keyof typeof optionalPeers | undefined => {
  if (!Predicate.hasProperty(error, "code") || error.code !== "ERR_MODULE_NOT_FOUND") return undefined
  const message = Predicate.hasProperty(error, "message") && Predicate.isString(error.message) ? error.message : ""
  const name = /Cannot find (?:package|module) '((?:@[^/']+\/)?[^/']+)/.exec(message)?.[1]
  return name !== undefined && name in optionalPeers ? (name as keyof typeof optionalPeers) : undefined
}

/**
 * A one-line message naming what to install, for a failure to load an optional peer.
 *
 * @since 0.2.0
 * @category errors
 */
export const missingPackageMessage = (error: unknown): string | undefined => {
  const name = missingPeer(error)
  if (name === undefined) return undefined
  const needed = (Object.keys(optionalPeers) as Array<keyof typeof optionalPeers>).filter(
    (peer) => optionalPeers[peer] === optionalPeers[name]
  )
  const embedded =
    name === "@effect/platform-node"
      ? " (and for the embedded Postgres: @electric-sql/pglite @electric-sql/pglite-socket)"
      : ""
  return `effect-flag-context: ${optionalPeers[name]} needs ${needed.join(" and ")}, which ${needed.length === 1 ? "is" : "are"} not installed: npm install ${needed.join(" ")}${embedded}`
}
