// Package bench is the benchmark harness behind `parsec bench`: it measures the data path
// of the client library (one large file uploaded then downloaded, many small files
// uploaded as one tree then downloaded) and the client's peak memory, against a server
// that is a separate process, and returns the results beside their goals (Run); and it
// drives many simulated devices of several users against one server at once, measuring
// each command's latency and errors (RunLoad, `parsec bench load`).
//
// The process that calls Run is the client being measured: its CPU time and peak memory
// are the client's. So the bench must never start a server inside this process, and never
// reach the server or its storage but through the client library (internal/client), as
// any client would. It must never print: it returns a Result and reports its progress
// through Options.Logf, and the caller (the CLI) writes both. It must never leave its
// local data behind (only an organization created on a server given with Options.Addr
// stays), never put a secret on a command line that anyone may list (the token of the
// server it starts goes through the environment), and never return the results of a run
// whose downloads differ from their sources: that is an error.
package bench
