import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { TestFlags } from "../src/FlagClient.js"
import { ada, betaUsersGetTheNewDashboard, dashboardFor, grace, TestLayer } from "../examples/testing.js"

// #region vitest
// One layer per file (or per `layer` block): the SDK client is built once and closed at the end.
layer(TestLayer)("dashboard", (it) => {
  it.effect("beta users get the new dashboard", () =>
    Effect.gen(function* () {
      yield* TestFlags.use((flags) => flags.enableForSegments("beta-dashboard", ["beta"]))
      assert.strictEqual(yield* dashboardFor(ada.id), "new dashboard")
      assert.strictEqual(yield* dashboardFor(grace.id), "classic dashboard")
    })
  )

  it.effect("nobody gets it when the flag is off", () =>
    Effect.gen(function* () {
      yield* TestFlags.use((flags) => flags.disable("beta-dashboard"))
      assert.strictEqual(yield* dashboardFor(ada.id), "classic dashboard")
    })
  )
})
// #endregion

layer(TestLayer)("examples/testing.ts", (it) => {
  it.effect("its checks pass", () => betaUsersGetTheNewDashboard)
})
