/**
 * What the benchmarks share: synthetic users, the benchmark flag in a flags file served by the
 * SDK's own file data source, the `FlagClient` stack over a given repository, quiet logs, and
 * helpers to read the statements recorded by the database proxy (see `database.ts`).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { integrations, type LDOptions } from "@launchdarkly/node-server-sdk"
import { DateTime, Effect, Layer, References, type Scope } from "effect"
import type { WireStatement } from "../test/support/TestDatabase.js"
import { ContextBuilder } from "../src/ContextBuilder.js"
import { ContextCache, type ContextCacheOptions } from "../src/ContextCache.js"
import { FlagClient } from "../src/FlagClient.js"
import { User, type UserId } from "../src/User.js"
import type { UserRepo } from "../src/UserRepo.js"

/** The flag every benchmark evaluates: `true` for contexts in the `beta` segment. */
export const benchFlag = "bench-beta"

const flagDefinition = {
  key: benchFlag,
  version: 1,
  on: true,
  salt: benchFlag,
  variations: [false, true],
  offVariation: 0,
  fallthrough: { variation: 0 },
  targets: [],
  contextTargets: [],
  prerequisites: [],
  trackEvents: false,
  rules: [
    {
      id: `${benchFlag}-rule`,
      trackEvents: false,
      clauses: [{ contextKind: "user", attribute: "segments", op: "in", values: ["beta"], negate: false }],
      variation: 1
    }
  ]
}

/** SDK options that keep it off the network. */
export const quietSdk: LDOptions = { sendEvents: false, diagnosticOptOut: true }

const CREATED = Date.UTC(2024, 0, 1)

/** The id of synthetic user `i`. */
export const userId = (i: number): UserId => `user-${i}` as UserId

/** Whether synthetic user `i` is in the `beta` segment (every tenth one), without building it. */
export const isBeta = (i: number): boolean => i % 10 === 0

/** Synthetic user `i`: every tenth one is in the `beta` segment. */
export const makeUser = (i: number): User =>
  new User({
    id: userId(i),
    email: `user-${i}@example.com`,
    email_verified: i % 2 === 0,
    name: i % 3 === 0 ? null : `User ${i}`,
    created_at: DateTime.makeUnsafe(CREATED + i * 1000),
    updated_at: DateTime.makeUnsafe(CREATED + i * 1000),
    metadata: { segments: isBeta(i) ? ["beta"] : [], plan: i % 4 === 0 ? "pro" : "free", index: i }
  })

/** A flags file holding the benchmark flag; removed when the scope closes. */
export const flagsFile: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => {
    const dir = mkdtempSync(join(tmpdir(), "efc-bench-"))
    const path = join(dir, "flags.json")
    writeFileSync(path, JSON.stringify({ flags: { [benchFlag]: flagDefinition } }))
    return { dir, path }
  }),
  ({ dir }) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
).pipe(Effect.map(({ path }) => path))

/** SDK options serving the flags file with the SDK's file data source, for a client built by hand. */
export const fileSdkOptions = (path: string): LDOptions => ({
  ...quietSdk,
  updateProcessor: new integrations.FileDataSourceFactory({ paths: [path], autoUpdate: false }).getFactory()
})

/** `FlagClient` (on the flags file), `ContextCache` and `ContextBuilder` over `repo`. */
export const flagStack = <E, R>(path: string, repo: Layer.Layer<UserRepo, E, R>, cache: ContextCacheOptions = {}) =>
  FlagClient.layerWith({
    flagsFile: path,
    requireInitialized: true,
    initTimeout: "10 seconds",
    sdkOptions: quietSdk
  }).pipe(
    Layer.provideMerge(ContextCache.layer(cache)),
    Layer.provideMerge(Layer.mergeAll(repo, ContextBuilder.layer()))
  )

/** Only errors are logged: warnings about id-only fallbacks are expected in some benchmarks. */
export const quietLogs = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.provideService(effect, References.MinimumLogLevel, "Error")

/** Whether a statement looks users up (`… WHERE "id" = ANY($1)`, or `= ANY($1::uuid[])` for a typed id). */
export const isLookupSql = (sql: string): boolean => /= ANY\(\$1[):]/.test(sql)

/** Statements that looked users up. */
export const lookupStatements = (statements: ReadonlyArray<WireStatement>): number =>
  statements.filter((statement) => isLookupSql(statement.sql)).length

/** Whether something accepts TCP connections at `host:port` within `timeoutMs`. Loopback only. */
export const reachable = (host: string, port: number, timeoutMs = 500): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
  })
