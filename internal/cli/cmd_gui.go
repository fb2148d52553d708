package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/gui"
	"github.com/parsec-go/parsec/internal/server/serve"
)

func (a *app) guiCmd() *cobra.Command {
	var listen, devAddr, devDataDir string
	var noBrowser, dev, installHandler bool
	cmd := &cobra.Command{
		Use:   "gui [LINK]",
		Short: "Open the graphical client in your web browser",
		Long: `Start the graphical client: a local web application bound to the loopback address, opened in
your web browser. It prints one line "GUI: <URL>" on stdout; the URL carries a one-time
secret that lets one browser in. The GUI and the CLI share the devices of --config-dir.

LINK, optional, is a Parsec link (an organization's bootstrap link or an invitation) to open
at once. With --dev, a development server runs in the same process (its data in the
development data directory), and the GUI can create organizations on it.

--install-link-handler registers this program as the handler of parsec3:// links on a Linux
desktop (an XDG desktop entry), so that clicking an invitation link opens the GUI.`,
		Args: rangeArgs(0, 1, "at most one Parsec link"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if installHandler {
				return a.installLinkHandler()
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			hc, err := a.httpClient()
			if err != nil {
				return err
			}
			cfg := gui.Config{ConfigDir: a.configDir, HTTPClient: hc, Logger: slog.New(slog.NewTextHandler(a.stderr, nil))}
			if len(args) == 1 {
				cfg.Link = args[0]
			}
			if dev {
				srv, err := startDevServer(ctx, devAddr, devDataDir, a.stderr)
				if err != nil {
					return err
				}
				cfg.DevServer = srv
				a.say("Development server: %s (administration token %s)", srv.URL, srv.AdminToken)
			}
			app, err := gui.New(cfg)
			if err != nil {
				return err
			}
			ln, err := gui.Listen(listen)
			if err != nil {
				return err
			}
			url := app.URL(ln)
			a.out("GUI: %s", url)
			if !noBrowser {
				if err := openBrowser(url); err != nil {
					a.say("Could not open a browser (%v): open the address above yourself.", err)
				}
			}
			a.say("The GUI runs until interrupted (Ctrl-C).")
			return app.Serve(ctx, ln)
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:0", "loopback address to listen on (host:port; port 0 picks a free one)")
	f.BoolVar(&noBrowser, "no-browser", false, "only print the address, do not open a browser")
	f.BoolVar(&dev, "dev", false, "also run a development server in this process")
	f.StringVar(&devAddr, "dev-addr", "127.0.0.1:6777", "with --dev, the development server's address")
	f.StringVar(&devDataDir, "dev-data-dir", "", "with --dev, the development server's data directory (default $XDG_DATA_HOME/parsec/dev-server)")
	f.BoolVar(&installHandler, "install-link-handler", false, "register this program as the parsec3:// link handler (Linux desktop) and exit")
	return cmd
}

// startDevServer runs a development server in this process until ctx is done.
func startDevServer(ctx context.Context, addr, dataDir string, logs io.Writer) (*gui.DevServer, error) {
	ready := make(chan serve.Listening, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- serve.Run(ctx, serve.Config{Addr: addr, DataDir: dataDir, Dev: true, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))},
			func(l serve.Listening) { ready <- l })
	}()
	select {
	case l := <-ready:
		return &gui.DevServer{URL: l.PublicURL, AdminToken: l.AdminToken}, nil
	case err := <-errc:
		return nil, err
	}
}

// openBrowser opens a URL in the desktop's browser.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	return cmd.Start()
}

// installLinkHandler writes an XDG desktop entry that opens parsec3:// links with
// "parsec gui", and makes it the scheme's default handler.
func (a *app) installLinkHandler() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	dataHome := os.Getenv("XDG_DATA_HOME")
	if dataHome == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return err
		}
		dataHome = filepath.Join(home, ".local", "share")
	}
	dir := filepath.Join(dataHome, "applications")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entry := fmt.Sprintf(`[Desktop Entry]
Type=Application
Name=Parsec
Comment=Zero-trust encrypted file sharing
Exec=%q gui %%u
Terminal=false
NoDisplay=true
MimeType=x-scheme-handler/parsec3;
`, exe)
	path := filepath.Join(dir, "parsec.desktop")
	if err := os.WriteFile(path, []byte(entry), 0o644); err != nil {
		return err
	}
	a.say("Wrote %s.", path)
	if out, err := exec.Command("xdg-mime", "default", "parsec.desktop", "x-scheme-handler/parsec3").CombinedOutput(); err != nil {
		a.say("Could not make it the default handler with xdg-mime (%v %s): parsec3:// links may still open it once the desktop reads the entry.", err, out)
		return nil
	}
	a.say("parsec3:// links now open the Parsec GUI.")
	return nil
}
