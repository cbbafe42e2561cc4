import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, DateTime, Effect, Exit, Layer } from "effect"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { DAY_MS, defaultRules } from "../src/Segmentation.js"
import { User, type UserId } from "../src/User.js"

const NOW = Date.UTC(2026, 0, 1)

const user = new User({
  id: "svc" as UserId,
  email: "ops@Agpt.co",
  email_verified: true,
  name: null,
  created_at: DateTime.makeUnsafe(NOW - 3 * DAY_MS),
  updated_at: DateTime.makeUnsafe(NOW),
  metadata: { plan: "pro", team: "core" }
})

const fromEnv = (env: Record<string, string>) =>
  ContextBuilder.layerConfig.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))

describe("ContextBuilder", () => {
  it.effect("layerConfig - unset variables keep the defaults", () =>
    Effect.gen(function* () {
      const builder = yield* ContextBuilder
      assert.deepStrictEqual(builder.rules, defaultRules)
    }).pipe(Effect.provide(fromEnv({})))
  )

  it.effect("layerConfig - reads every rule from the environment", () =>
    Effect.gen(function* () {
      const builder = yield* ContextBuilder
      assert.deepStrictEqual(builder.rules, {
        systemUserIds: ["svc", "cron"],
        employeeDomains: ["agpt.co"],
        domainSegmentsRequireVerifiedEmail: false,
        privilegedRoles: ["owner"],
        newUserDays: 2,
        recentUserDays: 10,
        metadataAttributes: ["team"],
        maxCustomAttributes: 5,
        privateAttributes: ["email"]
      })
      const context = builder.build(user, NOW)
      assert.deepStrictEqual(context.segments, ["admin", "employee", "recent_user", "system"])
      assert.deepStrictEqual(Object.keys((context["custom"] ?? {}) as object), ["team"])
      assert.strictEqual(builder.validUntil(user, NOW), NOW + DAY_MS)
    }).pipe(
      Effect.provide(
        fromEnv({
          SEGMENT_SYSTEM_USER_IDS: "svc, cron,",
          SEGMENT_EMPLOYEE_DOMAINS: "agpt.co",
          SEGMENT_DOMAIN_REQUIRES_VERIFIED: "false",
          SEGMENT_PRIVILEGED_ROLES: "owner",
          SEGMENT_NEW_USER_DAYS: "2",
          SEGMENT_RECENT_USER_DAYS: "10",
          SEGMENT_METADATA_ATTRIBUTES: "team",
          SEGMENT_MAX_CUSTOM_ATTRIBUTES: "5",
          SEGMENT_PRIVATE_ATTRIBUTES: "email"
        })
      )
    )
  )

  it.effect("layerConfig - keywords none and pii", () =>
    Effect.gen(function* () {
      const builder = yield* ContextBuilder
      assert.strictEqual(builder.rules.metadataAttributes, "none")
      assert.strictEqual(builder.rules.privateAttributes, "pii")
    }).pipe(Effect.provide(fromEnv({ SEGMENT_METADATA_ATTRIBUTES: " none ", SEGMENT_PRIVATE_ATTRIBUTES: "pii" })))
  )

  it.effect("layerConfig - a non-numeric day count is a ConfigError", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Layer.build(fromEnv({ SEGMENT_NEW_USER_DAYS: "seven" })))
      assert.isTrue(Exit.isFailure(exit))
    })
  )
})
