/**
 * Fault suite, HTTP answers: a user service that answers for the wrong user (a bug, a poisoned
 * proxy cache, a redirect to another user) must not put that user's context behind the requested
 * id, in an evaluation or in the cache. Through the whole stack: `UserRepo.layerHttp` on a loopback
 * service, `ContextCache`, and `FlagClient` on the real SDK with `TestData`.
 */
import { assert, layer } from "@effect/vitest"
import { DateTime, Effect, Layer, Schema } from "effect"
import { FetchHttpClient } from "effect/http"
import { ContextBuilder } from "../../src/ContextBuilder.js"
import { ContextCache } from "../../src/ContextCache.js"
import { FlagClient, TestFlags } from "../../src/FlagClient.js"
import { User, UserFromJson, UserFromRow, type UserId } from "../../src/User.js"
import { UserRepo } from "../../src/UserRepo.js"
import { UserServer } from "../support/UserServer.js"

const flag = "beta-feature"
const makeUser = (id: string, segments: ReadonlyArray<string>) =>
  new User({
    id: id as UserId,
    email: `${id}@example.com`,
    email_verified: true,
    name: id,
    created_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
    updated_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
    metadata: { segments: [...segments] }
  })
const ada = makeUser("user-ada", [])
const bob = makeUser("user-bob", ["beta"])
const asJson = (user: User) => JSON.stringify(Schema.encodeSync(UserFromJson)(user))

const Service = UserServer.layer.pipe(
  Layer.provide(UserRepo.layerMemoryRows([ada, bob].map((user) => Schema.encodeSync(UserFromRow)(user))))
)

/** The application: its repository is the HTTP one, on the loopback service. */
const App = Layer.unwrap(
  Effect.map(UserServer, (server) =>
    FlagClient.layerTest.pipe(
      Layer.provideMerge(ContextCache.layer()),
      Layer.provideMerge(
        Layer.mergeAll(
          UserRepo.layerHttp({ baseUrl: server.url, retry: { times: 0 } }).pipe(Layer.provide(FetchHttpClient.layer)),
          ContextBuilder.layer()
        )
      )
    )
  )
)

layer(Layer.provideMerge(App, Service), { excludeTestServices: true })("faults: HTTP answers", (it) => {
  it.effect(
    "another user's record, directly or through a redirect, is never served or cached as the requested user",
    () =>
      Effect.gen(function* () {
        const server = yield* UserServer
        const cache = yield* ContextCache
        yield* (yield* TestFlags).enableForSegments(flag, ["beta"])
        assert.isTrue(yield* FlagClient.isEnabled(flag, bob.id), "bob is in the beta")

        for (const wrong of [
          { status: 200, body: asJson(bob) },
          { status: 302, headers: { location: `/users/${bob.id}` } }
        ]) {
          yield* server.clear
          yield* server.script([wrong])
          yield* cache.invalidateAll
          // Ada's evaluation falls back to her id alone: not bob's segments.
          assert.isFalse(yield* FlagClient.isEnabled(flag, ada.id), JSON.stringify(wrong))
          // Nothing was cached under her id: the next lookup asks again, and gets her.
          const user = yield* cache.getUser(ada.id)
          assert.strictEqual(user.id, ada.id)
          assert.deepStrictEqual(user.metadata, { segments: [] })
          assert.isFalse(yield* FlagClient.isEnabled(flag, ada.id))
          assert.lengthOf(yield* server.requests, 2 + (wrong.status === 302 ? 1 : 0))
        }
      })
  )
})
