/**
 * Fault suite, bad input (1 of 3): arbitrary strings as user ids and flag keys, arbitrary JSON as
 * request attributes (6,000 generated cases, each through every operation of the client, the
 * cache and the repository). Every operation answers a value or a declared typed error, never a
 * defect, and `Object.prototype` is never touched. See `badInput.rows.test.ts` and
 * `badInput.pg.test.ts` for rows and metadata.
 */
import { layer } from "@effect/vitest"
import { Arbitrary, Effect, Schema } from "effect"
import { ContextCache } from "../../src/ContextCache.js"
import { FlagClient } from "../../src/FlagClient.js"
import { hostileMetadata, stringOrKnown } from "../support/faultsArbitrary.js"
import {
  current,
  everyOperation,
  jsonAttributes,
  KNOWN_FLAGS,
  KNOWN_USERS,
  known,
  memoryRepo,
  Stack
} from "../support/faultsBadInput.js"

// The known users, found by some of the generated ids.
current.repo = Effect.runSync(memoryRepo(KNOWN_USERS.map(known)))
let cases = 0

layer(Stack, { excludeTestServices: true, timeout: "60 seconds" })("faults - bad input: ids and flag keys", (it) => {
  it.effect.prop(
    "arbitrary user ids, flag keys and request attributes - every operation answers, no defect, no pollution",
    {
      userId: stringOrKnown(KNOWN_USERS),
      flagKey: stringOrKnown(KNOWN_FLAGS),
      attributes: Arbitrary.flatMap(
        Arbitrary.schema(Schema.Boolean),
        (hostile): Arbitrary.Arbitrary<Readonly<Record<string, Schema.Json>>> =>
          hostile ? hostileMetadata : jsonAttributes
      )
    },
    ({ userId, flagKey, attributes }) =>
      Effect.gen(function* () {
        const n = cases++
        return yield* everyOperation(
          yield* FlagClient,
          yield* ContextCache,
          current.repo,
          userId,
          flagKey,
          attributes,
          `user ${JSON.stringify(userId.slice(0, 80))} flag ${JSON.stringify(flagKey.slice(0, 80))}`,
          // Every operation for one case in four; the core ones for the others.
          n % 4 === 0 ? "all" : "core"
        )
      }),
    { timeout: 30_000, arbitrary: { runs: 6_000, size: 15, seed: 6 } }
  )
})
