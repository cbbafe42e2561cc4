import { Context, Effect, Layer, Scheduler } from "effect"
import { FlagClient } from "./build/src/FlagClient.js"
import { ContextCache } from "./build/src/ContextCache.js"
import { UserRepo } from "./build/src/UserRepo.js"
import { variationDetailNow } from "./build/src/internal/flagSdk.js"
import { benchFlag, flagStack, flagsFile, makeUser, quietLogs } from "./build/bench/fixtures.js"
const user = makeUser(10)
await Effect.runPromise(quietLogs(Effect.scoped(Effect.gen(function* () {
  const path = yield* flagsFile
  const services = yield* Layer.build(flagStack(path, UserRepo.layerMemory([user])))
  const client = Context.get(services, FlagClient)
  const sdk = client.sdk
  yield* client.isEnabled(benchFlag, user.id)
  const context = yield* Context.get(services, ContextCache).get(user.id)
  
  const N = 100000
  const mk = (K) => async () => { let v; for (let i = 0; i < N; i++) { v = variationDetailNow(sdk, benchFlag, context, false).value; if ((i % K) === 0) await null }; return v }
  const mkImm = (K) => async () => { let v; for (let i = 0; i < N; i++) { v = variationDetailNow(sdk, benchFlag, context, false).value; if ((i % K) === 0) await new Promise(r => setImmediate(r)) }; return v }
  const fc = (ops) => () => Effect.runPromiseWith(services)(Effect.gen(function* () { let v; for (let i = 0; i < N; i++) v = yield* client.isEnabled(benchFlag, user.id); return v }).pipe(Effect.provideService(Scheduler.MaxOpsBeforeYield, ops)))
  const variants = { awaitVariation: async () => { let v; for (let i = 0; i < N; i++) v = await sdk.variation(benchFlag, context, false); return v },
    k1: mk(1), k64: mk(64), k512: mk(512), k2048: mk(2048), k16k: mk(16384), imm512: mkImm(512), fc2048: fc(2048), fc256: fc(256), fc64: fc(64) }
  for (let round = 0; round < 8; round++) for (const [name, f] of Object.entries(variants)) {
    const t = process.hrtime.bigint(); const v = yield* Effect.promise(f); const ns = Number(process.hrtime.bigint() - t) / N
    if (round >= 3) console.log(round, name.padEnd(16), ns.toFixed(0), v)
  }
}))))
