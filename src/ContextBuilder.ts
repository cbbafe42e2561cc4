/**
 * The service that holds the segmentation rules (read once from `Config`) over the pure functions
 * of `Segmentation`.
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Schema } from "effect"
import * as Segmentation from "./Segmentation.js"
import type { User } from "./User.js"

const list = (name: string, fallback: ReadonlyArray<string>) =>
  Config.Array(Schema.String, name).pipe(
    Config.map((values) => values.map((value) => value.trim()).filter((value) => value.length > 0)),
    Config.withDefault(fallback)
  )

const selection = <const L extends string>(name: string, keywords: ReadonlyArray<L>, fallback: L) =>
  Config.String(name).pipe(
    Config.map((raw): L | ReadonlyArray<string> => {
      const trimmed = raw.trim()
      const keyword = keywords.find((k) => k === trimmed)
      return keyword ?? trimmed.split(",").flatMap((s) => (s.trim().length > 0 ? [s.trim()] : []))
    }),
    Config.withDefault<L | ReadonlyArray<string>>(fallback)
  )

/**
 * The configuration of {@link Segmentation.SegmentationRules}, one variable per rule:
 * `SEGMENT_SYSTEM_USER_IDS`, `SEGMENT_EMPLOYEE_DOMAINS`, `SEGMENT_PRIVILEGED_ROLES` (comma
 * separated), `SEGMENT_DOMAIN_REQUIRES_VERIFIED` (default `true`), `SEGMENT_NEW_USER_DAYS`,
 * `SEGMENT_RECENT_USER_DAYS`, `SEGMENT_METADATA_ATTRIBUTES` (`all`, `none` or a list),
 * `SEGMENT_MAX_CUSTOM_ATTRIBUTES` (default 100), `SEGMENT_PRIVATE_ATTRIBUTES` (`pii` or a list of
 * attribute names and references such as `/custom/plan`).
 *
 * @since 0.1.0
 * @category config
 */
export const rulesConfig = () => {
  const d = Segmentation.defaultRules
  return {
    systemUserIds: list("SEGMENT_SYSTEM_USER_IDS", d.systemUserIds),
    employeeDomains: list("SEGMENT_EMPLOYEE_DOMAINS", d.employeeDomains),
    domainSegmentsRequireVerifiedEmail: Config.Boolean("SEGMENT_DOMAIN_REQUIRES_VERIFIED").pipe(
      Config.withDefault(d.domainSegmentsRequireVerifiedEmail)
    ),
    privilegedRoles: list("SEGMENT_PRIVILEGED_ROLES", d.privilegedRoles),
    newUserDays: Config.Finite("SEGMENT_NEW_USER_DAYS").pipe(Config.withDefault(d.newUserDays)),
    recentUserDays: Config.Finite("SEGMENT_RECENT_USER_DAYS").pipe(Config.withDefault(d.recentUserDays)),
    metadataAttributes: selection("SEGMENT_METADATA_ATTRIBUTES", ["all", "none"] as const, "all"),
    maxCustomAttributes: Config.schema(
      Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
      "SEGMENT_MAX_CUSTOM_ATTRIBUTES"
    ).pipe(Config.withDefault(d.maxCustomAttributes)),
    privateAttributes: selection("SEGMENT_PRIVATE_ATTRIBUTES", ["pii"] as const, "pii")
  }
}

/**
 * Builds LaunchDarkly contexts from users with one set of {@link Segmentation.SegmentationRules}.
 *
 * @since 0.1.0
 * @category services
 */
export class ContextBuilder extends Context.Service<
  ContextBuilder,
  {
    readonly rules: Segmentation.SegmentationRules
    /** The context of `user` at `now` (epoch milliseconds). */
    readonly build: (user: User, now: number) => Segmentation.UserContext
    /** The first instant after `now` when the context of `user` changes on its own. */
    readonly validUntil: (user: User, now: number) => number
  }
>()("effect-flag-context/ContextBuilder") {
  /**
   * A builder over explicit rules (defaults for those left out).
   *
   * @since 0.1.0
   */
  static readonly make = (rules: Partial<Segmentation.SegmentationRules> = {}): ContextBuilder["Service"] => {
    const resolved = Segmentation.makeRules(rules)
    return ContextBuilder.of({
      rules: resolved,
      build: (user, now) => Segmentation.buildContext(user, now, resolved),
      validUntil: (user, now) => Segmentation.contextValidUntil(user.created_at.epochMilliseconds, now, resolved)
    })
  }

  /**
   * A layer over explicit rules.
   *
   * @since 0.1.0
   */
  static readonly layer = (rules: Partial<Segmentation.SegmentationRules> = {}): Layer.Layer<ContextBuilder> =>
    Layer.succeed(ContextBuilder, ContextBuilder.make(rules))

  /**
   * A layer reading the rules from configuration (see `docs/configuration.md`); unset keys keep
   * their defaults.
   *
   * @since 0.1.0
   */
  static readonly layerConfig: Layer.Layer<ContextBuilder, Config.ConfigError> = Layer.effect(
    ContextBuilder,
    Effect.map(Config.all(rulesConfig()), (rules) => ContextBuilder.make(rules))
  )
}
