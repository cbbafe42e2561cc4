import { readdirSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"

const dir = join(import.meta.dirname, "..", "examples")
const examples = readdirSync(dir).filter((name) => name.endsWith(".ts"))

describe("examples", () => {
  it("there are examples to run", () => {
    assert.isAbove(examples.length, 0)
  })

  it.each(examples)("examples/%s - its `program` runs to completion", async (name) => {
    const module: { readonly program?: unknown } = await import(join(dir, name))
    assert.isTrue(Effect.isEffect(module.program), `examples/${name} must export a \`program\` Effect`)
    await Effect.runPromise(module.program as Effect.Effect<unknown, unknown>)
  })
})
