/**
 * Reading a file the user named, refusing anything but a regular file: opening a FIFO blocks a
 * thread of Node's pool until a writer comes, and a blocked thread keeps even `process.exit` from
 * finishing. `stat` does not open the file, so it is asked first.
 *
 * @since 0.2.0
 */
import { Effect, FileSystem } from "effect"

const kinds: Readonly<Record<FileSystem.File.Type, string>> = {
  File: "a file",
  Directory: "a directory",
  SymbolicLink: "a symbolic link",
  BlockDevice: "a block device",
  CharacterDevice: "a character device",
  FIFO: "a FIFO (named pipe)",
  Socket: "a socket",
  Unknown: "not a regular file"
}

/**
 * The text of a regular file; fails with what is wrong, in words (`no such file`, `a FIFO …`).
 *
 * @since 0.2.0
 * @category files
 */
export const readRegularFile = Effect.fnUntraced(function* (path: string) {
  const fs = yield* FileSystem.FileSystem
  const problem = (error: { readonly reason: { readonly _tag: string }; readonly message: string }) =>
    error.reason._tag === "NotFound" ? "no such file" : error.message
  const info = yield* fs.stat(path).pipe(Effect.mapError(problem))
  if (info.type !== "File") {
    return yield* Effect.fail(`${kinds[info.type]}, not a regular file: give the path of a file`)
  }
  return yield* fs.readFileString(path).pipe(Effect.mapError(problem))
})
