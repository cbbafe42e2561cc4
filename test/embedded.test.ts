/**
 * Embedded Postgres: PGlite behind its socket server, with the same client, migration and
 * repository as a real server.
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { dirname, join, resolve } from "node:path"
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, DateTime, Effect, Exit, Layer, Schema, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { PGlite } from "@electric-sql/pglite"
import { EmbeddedPostgres, layerEmbedded, layerPgClient } from "../src/embedded.js"
import { freshDataDir, templateDir } from "../src/embedded/Template.js"
import { User, UserFromJson, type UserId } from "../src/User.js"
import { UserRepo, type UserRepoError } from "../src/UserRepo.js"

const makeUser = (i: number) =>
  new User({
    id: `user-${i}` as UserId,
    email: `user-${i}@example.com`,
    email_verified: true,
    name: `User ${i}`,
    created_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 1)),
    updated_at: DateTime.makeUnsafe(Date.UTC(2024, 0, 2)),
    metadata: { i }
  })
const asJson = Schema.encodeSync(UserFromJson)

/** Whether something accepts TCP connections at this address. */
const accepts = (host: string, port: number) =>
  Effect.callback<boolean>((resume) => {
    const socket = Net.connect({ host, port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  })

layer(layerEmbedded({ users: [makeUser(1), makeUser(2)] }), { excludeTestServices: true, timeout: "60 seconds" })(
  "layerEmbedded",
  (it) => {
    it.effect("serves its seed users through the migrated table", () =>
      Effect.gen(function* () {
        const repo = yield* UserRepo
        assert.deepStrictEqual(asJson(yield* repo.getById("user-2")), asJson(makeUser(2)))
        assert.strictEqual((yield* Effect.flip(repo.getById("user-3")))._tag, "UserNotFound")
        const { db } = yield* EmbeddedPostgres
        const tables = yield* Effect.promise(() =>
          db.query<{ readonly table_name: string }>(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"
          )
        )
        assert.deepStrictEqual(
          tables.rows.map((row) => row.table_name),
          ["User", "_User_migrations"]
        )
      })
    )

    it.effect("with its socket server stopped lookups fail with Unavailable promptly; restarted, they succeed", () =>
      Effect.gen(function* () {
        const repo = yield* UserRepo
        const embedded = yield* EmbeddedPostgres
        assert.strictEqual((yield* repo.getById("user-1")).id, "user-1")

        yield* embedded.stop
        assert.isFalse(yield* accepts(embedded.host, embedded.port))
        const started = Date.now()
        for (const id of ["user-1", "user-2"]) {
          const error = yield* Effect.flip(repo.getById(id))
          assert.strictEqual(error._tag, "UserRepoError")
          assert.strictEqual((error as UserRepoError).reason, "Unavailable")
        }
        assert.isBelow(Date.now() - started, 900, "failed before the 1 s lookup timeout")

        yield* embedded.start
        assert.isTrue(yield* accepts(embedded.host, embedded.port))
        assert.strictEqual((yield* repo.getById("user-2")).id, "user-2")
      })
    )
  }
)

describe("layerEmbedded with a data directory", () => {
  it.live(
    "closes its server when released, keeps its users on disk, and layerPgClient reopens them",
    () =>
      Effect.gen(function* () {
        const dataDir = mkdtempSync(join(tmpdir(), "efc-embedded-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))

        const scope = yield* Scope.make()
        const first = yield* Layer.buildWithScope(layerEmbedded({ dataDir, users: [makeUser(7)] }), scope)
        const { host, port } = Context.get(first, EmbeddedPostgres)
        assert.strictEqual((yield* Context.get(first, UserRepo).getById("user-7")).id, "user-7")
        yield* Scope.close(scope, Exit.void)
        assert.isFalse(yield* accepts(host, port), "the socket server is closed on release")

        // Restarted as a bare PgClient (no migration, no seed): the table and the user are still there.
        const second = yield* Layer.build(UserRepo.layerPg().pipe(Layer.provideMerge(layerPgClient({ dataDir }))))
        assert.deepStrictEqual(asJson(yield* Context.get(second, UserRepo).getById("user-7")), asJson(makeUser(7)))
        const embedded = Context.get(second, EmbeddedPostgres)
        assert.strictEqual(embedded.url, `postgres://postgres@127.0.0.1:${embedded.port}/postgres`)
        const sql = Context.get(second, SqlClient)
        const rows = yield* Effect.forEach(
          Array.from({ length: 30 }, (_, i) => i),
          (i) => sql<{ readonly n: number }>`SELECT ${i}::int AS n`,
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(
          rows.map((r) => r[0]?.n),
          Array.from({ length: 30 }, (_, i) => i)
        )
      }),
    60_000
  )
})

describe("layerEmbedded without a data directory", () => {
  it.live(
    "starts from a copy of the machine's prepared template, removed on release; template: false starts empty",
    () =>
      Effect.gen(function* () {
        // A template of our own, marked with a table, in a cache directory of our own.
        const cache = mkdtempSync(join(tmpdir(), "efc-template-cache-"))
        const previous = process.env["XDG_CACHE_HOME"]
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            if (previous === undefined) delete process.env["XDG_CACHE_HOME"]
            else process.env["XDG_CACHE_HOME"] = previous
            rmSync(cache, { recursive: true, force: true })
          })
        )
        yield* Effect.scoped(freshDataDir) // the machine's template, made if missing
        process.env["XDG_CACHE_HOME"] = cache
        const template = templateDir()
        process.env["XDG_CACHE_HOME"] = previous ?? ""
        cpSync(templateDir(), template, { recursive: true })
        process.env["XDG_CACHE_HOME"] = cache
        yield* Effect.promise(async () => {
          const db = await PGlite.create(template)
          await db.exec("CREATE TABLE from_template (n int)")
          await db.close()
        })

        const marked = (db: PGlite) =>
          Effect.promise(() => db.query("SELECT to_regclass('from_template') IS NOT NULL AS found")).pipe(
            Effect.map((result) => (result.rows[0] as { readonly found: boolean }).found)
          )
        const scope = yield* Scope.make()
        const copied = Context.get(yield* Layer.buildWithScope(layerEmbedded(), scope), EmbeddedPostgres)
        assert.isTrue(yield* marked(copied.db), "the template's table is there")
        yield* Scope.close(scope, Exit.void)

        const empty = yield* Layer.build(layerEmbedded({ template: false }))
        assert.isFalse(yield* marked(Context.get(empty, EmbeddedPostgres).db))
      }),
    120_000
  )
})

describe("entry points", () => {
  it("the root entry point never loads PGlite, even indirectly", () => {
    const src = resolve(import.meta.dirname, "..", "src")
    const seen = new Set<string>()
    const visit = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      for (const [, specifier] of readFileSync(file, "utf8").matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)) {
        if (specifier === undefined) continue
        assert.notMatch(specifier, /pglite|embedded/, `${file} imports ${specifier}`)
        if (specifier.startsWith(".")) visit(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")))
      }
    }
    visit(join(src, "index.ts"))
    assert.isAbove(seen.size, 3)
    assert.include(readdirSync(src), "embedded.ts")
    assert.match(readFileSync(join(src, "embedded.ts"), "utf8"), /@electric-sql\/pglite/)
  })
})
