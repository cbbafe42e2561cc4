/**
 * Fault suite, bad input (3 of 3): generated rows through a real Postgres (the server of
 * `DATABASE_URL`, else PGlite) and `UserRepo.layerPg`: hostile metadata stored as `jsonb` in the
 * Prisma table, and generated rows of a table whose columns are all nullable (text metadata). A
 * table whose columns have types the repository can't read fails the layer at build. What the
 * database refuses to store is its business; everything it stores must evaluate to the full
 * context exactly when it decodes, the id-only fallback otherwise, never a defect.
 */
import { assert, layer } from "@effect/vitest"
import { Arbitrary, Effect, Exit, Layer, type Schema } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { ContextBuilder } from "../../src/ContextBuilder.js"
import { ContextCache } from "../../src/ContextCache.js"
import { type Evaluation, FlagClient, TestFlags } from "../../src/FlagClient.js"
import type { UserId } from "../../src/User.js"
import { UserRepo, UserTableMisconfigured } from "../../src/UserRepo.js"
import * as UserTable from "../../src/UserTable.js"
import {
  assertAnswered,
  assertNoPollution,
  hostileMetadata,
  hostileRow,
  jsonText,
  nestingDepth
} from "../support/faultsArbitrary.js"
import { captureLogs } from "../support/launchdarkly.js"
import { TestDatabase } from "../support/TestDatabase.js"

const LOOSE = "LooseUser"
const NULLABLE = "NullableUser"
const EMBEDDED_MAX_DEPTH = 4_000

const Database = Layer.effectDiscard(
  Effect.gen(function* () {
    yield* UserTable.migrate()
    const sql = yield* SqlClient
    // The Prisma columns, with looser types (any JSON, any text): what an application's own table
    // might hold. A value of the right kind still decodes; any other is a row of the wrong type.
    yield* sql.unsafe(`CREATE TABLE "${LOOSE}" (
      id text PRIMARY KEY, email jsonb, "emailVerified" jsonb, name jsonb,
      "createdAt" text, "updatedAt" timestamptz, metadata text)`)
    // The types the repository reads, every column nullable: what a careless migration leaves.
    yield* sql.unsafe(`CREATE TABLE "${NULLABLE}" (
      id text PRIMARY KEY, email text, "emailVerified" boolean, name text,
      "createdAt" timestamptz, "updatedAt" timestamptz, metadata text)`)
  })
).pipe(Layer.provideMerge(TestDatabase.layer))

const logs = captureLogs()

/** The client over `UserRepo.layerPg` on `table`, the flag on for the `beta` segment. */
const clientOn = (table?: string) =>
  Layer.effectDiscard(TestFlags.use((flags) => flags.enableForSegments("by-segment", ["beta", "user"]))).pipe(
    Layer.provideMerge(FlagClient.layerTest),
    Layer.provideMerge(ContextCache.layer({ capacity: 1_000, lookupTimeout: "5 seconds" })),
    Layer.provideMerge(
      Layer.mergeAll(UserRepo.layerPg({ table, timeout: "5 seconds" }), ContextBuilder.layer(), logs.layer)
    )
  )

/** Evaluates every id at once (the repository batches them), each exit checked. */
const evaluateAll = (ids: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const client = yield* FlagClient
    const exits = yield* Effect.forEach(ids, (id) => Effect.exit(client.evaluate("by-segment", id as UserId, false)), {
      concurrency: 50
    })
    const results = new Map<string, Evaluation<boolean>>()
    exits.forEach((exit, i) => {
      const id = ids[i] ?? ""
      assertAnswered(exit, [], id)
      if (Exit.isSuccess(exit)) results.set(id, exit.value)
    })
    assertNoPollution("after the batch")
    return results
  })

/** A column value as text for the database, `null` for a missing one. */
const asText = (value: unknown): string | null =>
  value === undefined
    ? null
    : value instanceof Date
      ? Number.isNaN(value.getTime())
        ? "Invalid Date"
        : value.toISOString()
      : typeof value === "string"
        ? value
        : jsonText(value as Schema.Json)

/**
 * Text every Postgres stores: NUL (refused by text and jsonb) and escaped lone surrogates (refused
 * by jsonb) become U+FFFD. Invalid jsonb must never reach the embedded database: PGlite 0.5.14,
 * once it has parsed a jsonb value nested about 10,000 levels deep, spins forever in its error
 * reporting on the next invalid jsonb input, blocking the whole process.
 */
const storable = (text: string | null) =>
  text === null
    ? null
    : text
        .replaceAll("\u0000", "\ufffd")
        .replaceAll("\\u0000", "\\ufffd")
        .replace(/\\ud[89a-f][0-9a-f]{2}/gi, "\\ufffd")

layer(Database, { excludeTestServices: true, timeout: "60 seconds" })("faults - bad input: through Postgres", (it) => {
  it.effect("300 generated metadata objects as jsonb - every stored row evaluates with its full context", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient
      const db = yield* TestDatabase
      const samples = yield* Arbitrary.sampleEffect(hostileMetadata, { count: 300, size: 20, seed: 11 })
      const stored: Array<string> = []
      const refused: Array<string> = []
      for (const [i, metadata] of samples.entries()) {
        const id = `jsonb-${i}`
        // PGlite 0.5.14 does not bound the nesting of jsonb: a value nested ~6,000 levels or more
        // overflows its stack, corrupts it, and the next error hangs the process. A real server
        // refuses such a value (stack depth limit exceeded), so it is sent only there.
        if (db.kind === "embedded" && nestingDepth(metadata) > EMBEDDED_MAX_DEPTH) continue
        const insert = sql`INSERT INTO "User" (id, email, "emailVerified", name, "createdAt", "updatedAt", metadata)
          VALUES (${id}, ${`${id}@example.com`}, true, ${id}, now(), now(), ${storable(jsonText(metadata))}::jsonb)`
        const exit = yield* Effect.exit(insert)
        if (Exit.isSuccess(exit)) stored.push(id)
        else refused.push(`${id}: ${String(exit.cause).slice(0, 120)}`)
      }
      // Deep nesting beyond Postgres's own limits may be refused (or, embedded, not sent); most is stored.
      assert.isAtLeast(stored.length, 200, refused.slice(0, 5).join("\n"))

      const results = yield* evaluateAll(stored).pipe(Effect.provide(clientOn()))
      for (const id of stored) {
        const detail = results.get(id)
        assert.deepStrictEqual([detail?.context, detail?.fallback, detail?.value], ["full", null, true], id)
      }
    })
  )

  it.effect("a table whose columns have other types fails the layer at build, naming the column and its type", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Layer.build(UserRepo.layerPg({ table: LOOSE })))
      assert.instanceOf(error, UserTableMisconfigured)
      const misconfigured = error as UserTableMisconfigured
      assert.deepStrictEqual([misconfigured.column, misconfigured.found], ["email", "jsonb"])
      assert.include(misconfigured.message, "columns.email")
    })
  )

  it.effect("200 generated rows in a table of nullable columns - full context exactly when the row decodes", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient
      const samples = yield* Arbitrary.sampleEffect(hostileRow, { count: 200, size: 20, seed: 12 })
      const stored: Array<string> = []
      const ofType = (value: unknown, type: string) => (typeof value === type ? value : null)
      for (const [i, row] of samples.entries()) {
        const id = `nullable-${i}`
        const createdAt = row["createdAt"]
        const updatedAt =
          row["updatedAt"] instanceof Date && !Number.isNaN(row["updatedAt"].getTime()) ? row["updatedAt"] : null
        const exit = yield* Effect.exit(
          sql.unsafe(
            `INSERT INTO "${NULLABLE}" (id, email, "emailVerified", name, "createdAt", "updatedAt", metadata)
             VALUES ($1, $2, $3, $4, $5::timestamptz, $6, $7)`,
            [
              id,
              storable(ofType(row["email"], "string") as string | null),
              ofType(row["emailVerified"], "boolean") as boolean | null,
              storable(ofType(row["name"], "string") as string | null),
              createdAt instanceof Date
                ? storable(asText(createdAt))
                : storable(ofType(createdAt, "string") as string | null),
              updatedAt,
              storable(asText(row["metadata"]))
            ]
          )
        )
        if (Exit.isSuccess(exit)) stored.push(id)
      }
      assert.isAtLeast(stored.length, 50)

      // A row decodes exactly when its creation time is a finite instant: every other column
      // has a reading for null (no email, unverified, no name, updated = created, metadata {}).
      const read = yield* sql<{ readonly id: string; readonly finite: boolean }>`
        SELECT id, ("createdAt" IS NOT NULL AND isfinite("createdAt")) AS finite FROM ${sql(NULLABLE)}`
      const expected = new Map(read.map((row) => [row.id, row.finite]))

      const results = yield* evaluateAll(stored).pipe(Effect.provide(clientOn(NULLABLE)))
      let full = 0
      for (const id of stored) {
        const detail = results.get(id)
        if (expected.get(id) === true) {
          full++
          assert.deepStrictEqual([detail?.context, detail?.fallback], ["full", null], id)
        } else {
          assert.deepStrictEqual([detail?.context, detail?.fallback], ["id-only", "UserRepoUnavailable"], id)
        }
      }
      // Both branches ran: some rows decode, the others do not.
      assert.isAbove(full, 0)
      assert.isAbove(stored.length - full, 0)
    })
  )
})
