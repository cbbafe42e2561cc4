import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { syncDoc } from "../scripts/sync-docs.mjs"

const root = join(import.meta.dirname, "..")
const docs = readdirSync(join(root, "docs")).filter((name) => name.endsWith(".md"))

describe("docs", () => {
  it.each(docs)("%s - every ts block is an example file or a region of one, verbatim", (name) => {
    const text = readFileSync(join(root, "docs", name), "utf8")
    const blocks = text.split("```ts").length - 1
    const included = (text.match(/<!-- example: [^\n]+ -->\n```ts/g) ?? []).length
    assert.strictEqual(included, blocks, "a ts code block has no <!-- example: … --> marker")
    assert.strictEqual(text, syncDoc(root, text), "run `npm run docs`")
  })
})
