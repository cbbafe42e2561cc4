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
