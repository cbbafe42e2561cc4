/**
 * A real user service for tests: a `node:http` server on an ephemeral loopback port, answering
 * `GET /users/{id}` from the `UserRepo` of its environment (the in-memory layer in the suites).
 *
 * - `script(answers)`: the next requests get these answers, in order, before the repository
 *   answers again (a status with headers and body, `"hang"`: never answer, or `"reset"`: drop the
 *   connection, or `{ flood: bytes }`: a 200 whose chunked body, with no `Content-Length`, goes on
 *   until `bytes` are written or the client hangs up).
 * - `GET /hang/users/{id}` never answers.
 * - `requests`: the raw paths received, in order; `flooded`: the body bytes the last flood wrote.
 *
 * A row the repository cannot decode is served as a body that is not a user.
 */
import * as Http from "node:http"
import { Context, Effect, Exit, Layer, Schema } from "effect"
import { UserFromJson } from "../../src/User.js"
import { UserRepo } from "../../src/UserRepo.js"

export type Answer =
  | { readonly status: number; readonly headers?: Readonly<Record<string, string>>; readonly body?: string }
  | { readonly flood: number }
  | "hang"
  | "reset"

export class UserServer extends Context.Service<
  UserServer,
  {
    /** `http://127.0.0.1:{port}`. */
    readonly url: string
    readonly requests: Effect.Effect<ReadonlyArray<string>>
    /** Body bytes written by the last `flood` answer. */
    readonly flooded: Effect.Effect<number>
    readonly script: (answers: ReadonlyArray<Answer>) => Effect.Effect<void>
    /** Forgets the requests and any answers left in the script. */
    readonly clear: Effect.Effect<void>
  }
>()("effect-flag-context/test/UserServer") {
  static readonly layer: Layer.Layer<UserServer, never, UserRepo> = Layer.effect(
    UserServer,
    Effect.gen(function* () {
      const repo = yield* UserRepo
      const requests: Array<string> = []
      let flooded = 0
      const scripted: Array<Answer> = []
      const encode = Schema.encodeSync(UserFromJson)

      const fromRepo = async (id: string): Promise<Answer> => {
        const exit = await Effect.runPromise(Effect.exit(repo.getById(id)))
        if (Exit.isSuccess(exit)) return { status: 200, body: JSON.stringify(encode(exit.value)) }
        const error = Exit.findErrorOption(exit)
        if (error._tag === "None") return { status: 500 }
        switch (error.value._tag) {
          case "UserNotFound":
            return { status: 404, body: "{}" }
          case "InvalidUserId":
            return { status: 400, body: "{}" }
          case "UserRepoError":
            return error.value.reason === "Decode" ? { status: 200, body: JSON.stringify({ id }) } : { status: 503 }
        }
      }

      const server = Http.createServer((request, response) => {
        const path = request.url ?? ""
        requests.push(path)
        const users = /^\/users\/([^/?#]*)$/.exec(path)
        const answer: Promise<Answer> = path.startsWith("/hang/")
          ? Promise.resolve("hang")
          : users === null
            ? Promise.resolve({ status: 400 })
            : scripted.length > 0
              ? Promise.resolve(scripted.shift() ?? "hang")
              : fromRepo(decodeURIComponent(users[1] ?? ""))
        void answer.then((answer) => {
          if (answer === "hang") return
          if (answer === "reset") return void request.socket.destroy()
          if ("flood" in answer) {
            flooded = 0
            const chunk = Buffer.alloc(64 * 1024, "x")
            response.writeHead(200, { "content-type": "application/json" })
            const write = (): void => {
              while (flooded < answer.flood && !response.destroyed) {
                flooded += chunk.length
                if (!response.write(chunk)) return void response.once("drain", write)
              }
              response.end()
            }
            return write()
          }
          response.writeHead(answer.status, { "content-type": "application/json", ...answer.headers })
          response.end(answer.body ?? "")
        })
      })

      yield* Effect.acquireRelease(
        Effect.callback<void>((resume) => {
          server.listen(0, "127.0.0.1", () => resume(Effect.void))
        }),
        () =>
          Effect.callback<void>((resume) => {
            server.closeAllConnections()
            server.close(() => resume(Effect.void))
          })
      )
      const address = server.address()
      const port = address !== null && typeof address === "object" ? address.port : 0

      return UserServer.of({
        url: `http://127.0.0.1:${port}`,
        requests: Effect.sync(() => requests.slice()),
        flooded: Effect.sync(() => flooded),
        script: (answers) =>
          Effect.sync(() => {
            scripted.push(...answers)
          }),
        clear: Effect.sync(() => {
          requests.length = 0
          scripted.length = 0
        })
      })
    })
  )
}
