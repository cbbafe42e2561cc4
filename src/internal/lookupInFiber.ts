/**
 * A lookup written as an `Effect` run the way `UserRepo.lookupUnsafe` runs one: in a fiber of its
 * own over the caller's services, its exit handed to `onExit`, interrupted by the canceler.
 *
 * @internal
 */
import { type Context, Effect, type Exit } from "effect"
import type { User } from "../User.js"

export const lookupInFiber = <E>(
  lookup: Effect.Effect<User, E>,
  options: { readonly context: Context.Context<never>; readonly onExit: (exit: Exit.Exit<User, E>) => void }
): (() => void) => {
  const fiber = Effect.runForkWith(options.context)(lookup)
  fiber.addObserver(options.onExit)
  return () => fiber.interruptUnsafe()
}
