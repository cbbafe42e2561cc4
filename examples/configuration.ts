/**
 * Configuration: the layers read `Config` once, when they are built, so the environment is only the
 * default source. Any `ConfigProvider` works: a record in code, a `.env` file, a secrets manager.
 *
 * `program` builds the production stack (`FlagClient.layer`) from a record in code, over users in
 * memory and the example flags file, and checks that every setting arrived.
 */
import { strict as assert } from "node:assert"
import { fileURLToPath } from "node:url"
import { ConfigProvider, DateTime, Effect, Layer, Schema } from "effect"
import { ContextBuilder, ContextCache, FlagClient, User, UserId, UserRepo } from "effect-flag-context"

const flagsFile = fileURLToPath(new URL("./flags.json", import.meta.url))
const grace = new User({
  id: UserId.make("grace"),
  email: "grace@agpt.ai",
  email_verified: true,
  name: "Grace",
  created_at: DateTime.makeUnsafe(Date.now() - 10 * 86_400_000),
  updated_at: DateTime.makeUnsafe(Date.now()),
  metadata: {}
})

// #region provider
// The same variables as the environment, from a record: here, what a secrets manager returned.
const settings = ConfigProvider.fromEnv({
  env: {
    LAUNCHDARKLY_FLAGS_FILE: flagsFile,
    LAUNCHDARKLY_INIT_TIMEOUT: "2 seconds",
    CONTEXT_CACHE_TTL: "10 minutes",
    CONTEXT_CACHE_CAPACITY: "50000",
    SEGMENT_EMPLOYEE_DOMAINS: "agpt.co,agpt.ai",
    SEGMENT_NEW_USER_DAYS: "14"
  }
})

const Live = FlagClient.layer.pipe(
  Layer.provide(UserRepo.layerMemory([grace])), // UserRepo.layerPgConfig() in production
  Layer.provide(ConfigProvider.layer(settings))
)
// #endregion

export const program = Effect.gen(function* () {
  const builder = yield* ContextBuilder
  assert.deepEqual(builder.rules.employeeDomains, ["agpt.co", "agpt.ai"])
  assert.equal(builder.rules.newUserDays, 14)
  const context = yield* (yield* ContextCache).get(grace.id)
  // 10 days old is a new user when new means 14 days; agpt.ai is an employee domain.
  assert.deepEqual(context.segments, ["employee", "new_user", "user"])
  // "Welcome aboard!" is the welcome-banner for new users, "Hi, colleague" for employees (rule 0).
  assert.equal(yield* FlagClient.variation("welcome-banner", grace.id, Schema.String, "Hello!"), "Hi, colleague")
  return context
}).pipe(Effect.provide(Live))
