// Package cli is the `parsec` command line: one file per command group, each a thin layer
// over the client library (internal/client), the server (internal/server) or the benchmark
// harness (internal/bench). A command reads its flags and arguments, makes one call, and
// prints the result: it must never hold copy, merge, transfer or permission logic of its
// own (the GUI and the mount must do exactly what it does), nor import internal/protocol
// (the server's refusals reach it as error kinds).
//
// Conventions: messages and prompts go to stderr, data to stdout (JSON with --json); an error
// is one line on stderr and a non-zero exit code chosen from its kind (exitCode); every flag
// also reads from a PARSEC_* environment variable (except --password-stdin); with
// --password-stdin the first line of stdin is the password and later lines answer prompts.
package cli
