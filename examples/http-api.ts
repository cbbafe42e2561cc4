/**
 * A flag-guarded `effect/http-api` endpoint: `FlagClient.require` fails with `FeatureDisabled`,
 * which the endpoint declares, so a user without the flag gets a 404.
 *
 * `FlagClient` is taken once, in the group's builder (`yield* FlagClient`), so it is a requirement
 * of the handlers' layer and not of each request: that is what lets `HttpApiTest` (and a server)
 * build the routes. `program` is the test: the typed in-memory client of `HttpApiTest`, then the
 * same routes as a web handler, to see the status code.
 */
import { strict as assert } from "node:assert"
import { DateTime, Effect, Layer, Schema } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpApiTest } from "effect/http-api"
import { FeatureDisabled, FlagClient, TestFlags, User, UserId } from "effect-flag-context"

// #region api
// The API: the endpoint declares FeatureDisabled (its status, 404, is on the error class).
class DashboardGroup extends HttpApiGroup.make("dashboard").add(
  HttpApiEndpoint.get("show", "/dashboard/:userId", {
    params: { userId: UserId },
    success: Schema.String,
    error: FeatureDisabled
  })
) {}

class Api extends HttpApi.make("app").add(DashboardGroup) {}
// #endregion

// #region handlers
// The handlers: FlagClient is resolved once, when the group is built.
const DashboardHandlers = HttpApiBuilder.group(
  Api,
  "dashboard",
  Effect.fn(function* (handlers) {
    const flags = yield* FlagClient
    return handlers.handle("show", ({ params }) =>
      flags.require("new-dashboard", params.userId).pipe(Effect.as(`the new dashboard for ${params.userId}`))
    )
  })
)
// #endregion

// #region test
// The test: the real SDK on TestData, an in-memory repository, and the typed client of HttpApiTest.
const DAY = 86_400_000
const user = (id: string, plan: string) =>
  new User({
    // Ids from strings (a request, a file) are checked by the schema: UserId.make throws on a blank one.
    id: UserId.make(id),
    email: `${id}@example.com`,
    email_verified: true,
    name: id,
    created_at: DateTime.makeUnsafe(Date.now() - 400 * DAY),
    updated_at: DateTime.makeUnsafe(Date.now()),
    metadata: { plan }
  })

const FlagsTest = FlagClient.layerTestWith({
  flags: { "new-dashboard": false },
  users: [user("ada", "enterprise"), user("grace", "free")]
})

// provideMerge: the test reaches TestFlags too, to set the flag.
const HandlersTest = DashboardHandlers.pipe(Layer.provideMerge(FlagsTest))

const testGuardedEndpoint = Effect.gen(function* () {
  yield* TestFlags.use((flags) => flags.enableForUsers("new-dashboard", ["ada"]))
  const client = yield* HttpApiTest.groups(Api, ["dashboard"])
  const shown = yield* client.dashboard.show({ params: { userId: UserId.make("ada") } })
  const refused = yield* Effect.flip(client.dashboard.show({ params: { userId: UserId.make("grace") } }))
  return { shown, refused }
}).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(HandlersTest, HttpServer.layerServices)))
// #endregion

// The same routes as a web handler (what a server runs): the status a browser sees.
const statusFor = (userId: string) =>
  Effect.acquireUseRelease(
    Effect.sync(() =>
      HttpRouter.toWebHandler(
        HttpApiBuilder.layer(Api).pipe(
          Layer.provide(DashboardHandlers),
          Layer.provide(FlagsTest),
          Layer.provide(HttpServer.layerServices)
        )
      )
    ),
    ({ handler }) =>
      Effect.promise(() => handler(new Request(`http://localhost/dashboard/${userId}`))).pipe(
        Effect.map((response) => response.status)
      ),
    ({ dispose }) => Effect.promise(() => dispose())
  )

export const program = Effect.gen(function* () {
  const { shown, refused } = yield* testGuardedEndpoint
  assert.equal(shown, "the new dashboard for ada")
  assert.equal(refused._tag, "FeatureDisabled")
  const status = yield* statusFor("grace")
  assert.equal(status, 404)
  return { shown, refused: refused._tag, status }
})
