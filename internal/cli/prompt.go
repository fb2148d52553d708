package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/parsec-go/parsec/internal/parsec"
)

func (a *app) addPasswordStdin(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&a.passwordStdin, "password-stdin", false, "read the device password from the first line of stdin (later lines answer prompts)")
}

// readLine reads one line of stdin, without its line ending. io.EOF after nothing.
func (a *app) readLine() (string, error) {
	line, err := a.stdin.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// terminal returns stdin as a terminal file, or nil when it is not one.
func (a *app) terminal() *os.File {
	f, ok := a.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return f
}

// password returns the device password: the first line of stdin with --password-stdin, else
// asked on the terminal without echo.
func (a *app) password(prompt string) ([]byte, error) {
	if a.passwordStdin {
		if a.passwordRead {
			return nil, parsec.Errorf(parsec.Invalid, "--password-stdin gives one password only")
		}
		a.passwordRead = true
		line, err := a.readLine()
		if err != nil {
			return nil, parsec.Errorf(parsec.Invalid, "--password-stdin: no password on stdin")
		}
		if line == "" {
			return nil, parsec.Errorf(parsec.Invalid, "--password-stdin: the first line of stdin is empty")
		}
		return []byte(line), nil
	}
	f := a.terminal()
	if f == nil {
		return nil, parsec.Errorf(parsec.Invalid, "no terminal to ask for the password: use --password-stdin")
	}
	fmt.Fprint(a.stderr, prompt)
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	return pw, nil
}

// secret asks for a secret other than the device's password (a recovery passphrase): the
// next line of stdin with --password-stdin, else asked on the terminal without echo.
func (a *app) secret(prompt string) ([]byte, error) {
	if a.passwordStdin {
		return a.stdinSecret(strings.TrimSuffix(strings.ToLower(prompt), ": "))
	}
	f := a.terminal()
	if f == nil {
		return nil, parsec.Errorf(parsec.Invalid, "no terminal to ask for the %s: use --password-stdin", strings.TrimSuffix(strings.ToLower(prompt), ": "))
	}
	fmt.Fprint(a.stderr, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", strings.TrimSuffix(strings.ToLower(prompt), ": "), err)
	}
	return b, nil
}

// stdinSecret reads the next line of stdin, which must hold what.
func (a *app) stdinSecret(what string) ([]byte, error) {
	line, err := a.readLine()
	if err != nil {
		return nil, parsec.Errorf(parsec.Invalid, "--password-stdin: no %s on stdin", what)
	}
	if line == "" {
		return nil, parsec.Errorf(parsec.Invalid, "--password-stdin: the line of the %s is empty", what)
	}
	return []byte(line), nil
}

// newPassword asks for a new device password twice (with --password-stdin, the next line of
// stdin, once).
func (a *app) newPassword() ([]byte, error) {
	if a.passwordStdin {
		if !a.passwordRead {
			return a.password("") // the first line
		}
		return a.stdinSecret("new password")
	}
	for {
		pw, err := a.password("New device password: ")
		if err != nil {
			return nil, err
		}
		if len(pw) == 0 {
			a.say("The password must not be empty.")
			continue
		}
		again, err := a.password("Confirm password: ")
		if err != nil {
			return nil, err
		}
		if string(pw) == string(again) {
			return pw, nil
		}
		a.say("Password mismatch, try again.")
	}
}

// confirm asks a yes/no question; anything but yes is a Cancelled error saying cancelled.
func (a *app) confirm(cmd *cobra.Command, question, cancelled string) error {
	ans, err := a.ask(cmd.Context(), question+" [y/N] ")
	if err != nil {
		return err
	}
	if !strings.EqualFold(ans, "y") && !strings.EqualFold(ans, "yes") {
		return parsec.Errorf(parsec.Cancelled, "%s", cancelled)
	}
	return nil
}
