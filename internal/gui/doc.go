// Package gui is the local web GUI behind `parsec gui`: server-rendered pages (html/template),
// a few lines of plain JavaScript for live updates, every asset embedded in the binary.
//
// It holds presentation only: every action is one call of the client library
// (internal/client), exactly as the CLI makes it; the GUI never imports internal/protocol and
// holds no copy, merge, permission or exchange logic of its own.
//
// It is a local web application, protected the way syncthing and tailscale protect theirs:
// it listens on the loopback address only; the URL it prints carries a one-time secret,
// exchanged at the first visit for an HttpOnly, SameSite=Strict cookie, without which every
// request is refused; a request whose Host is not the address it listens on is refused (DNS
// rebinding); a state-changing request from another origin is refused; pages carry a strict
// Content-Security-Policy with no inline script. Passwords travel only in POST bodies, never
// in URLs or logs. An unlocked device lives only in this process's memory; "Log out" forgets it.
package gui
