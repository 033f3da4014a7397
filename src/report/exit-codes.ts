// The exit codes every command keeps to (README, "Exit codes"): 0 clean, 1 violations (or what the
// command counts as a failed result), 2 usage or config error, 3 interrupted or internal error.
// A module of its own so that modules loaded in worker threads (src/experiment/fallback.ts) can
// name them without importing the coordinator.
export const EXIT_OK = 0, EXIT_VIOLATIONS = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 3;
