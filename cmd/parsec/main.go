// Command parsec is the Parsec server, command-line client and administration tool.
package main

import (
	"context"
	"os"

	"github.com/parsec-go/parsec/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
