/**
 * effect-flag-context: LaunchDarkly flags evaluated against a rich, cached user context.
 *
 * The layer graph, read top-down: `FlagClient` needs `ContextCache`, which needs `UserRepo` and
 * `ContextBuilder`. See `docs/architecture.md`.
 *
 * @since 0.1.0
 */
export * from "./ContextBuilder.js"
export * from "./Segmentation.js"
export * from "./User.js"
export * from "./UserRepo.js"
export * from "./UserChangeNotifier.js"
export * from "./HttpRetry.js"
export * as UserTable from "./UserTable.js"
export * from "./ContextCache.js"
export * from "./FlagClient.js"
export * from "./FlagClientPromise.js"
