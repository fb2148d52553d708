package server

import (
	"html/template"
	"net/http"

	"github.com/parsec-go/parsec/internal/protocol"
)

var redirectPage = template.Must(template.New("redirect").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="0; url={{.URL}}">
<title>Open with Parsec</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;line-height:1.5}code{word-break:break-all;background:#f3f3f3;padding:.2em}</style>
</head><body>
<h1>Open this link with Parsec</h1>
<p>If Parsec did not open by itself, <a href="{{.URL}}">open the link with Parsec</a>, or copy it into the
client, for example in a terminal:</p>
<p><code>{{.Command}} '{{.URL}}'</code></p>
</body></html>
`))

// redirect answers the http(s) form of a link with a page that opens its parsec3:// form.
// Links travel in that form because mail and chat clients make it clickable.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request) {
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	if r.TLS != nil {
		u.Scheme = "https"
	}
	link, err := protocol.ParseLink(u.String())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	link.Server = s.public
	command := "parsec invite claim"
	if link.Action == protocol.ActionBootstrapOrganization {
		command = "parsec org bootstrap"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	redirectPage.Execute(w, struct {
		URL     template.URL
		Command string
	}{template.URL(link.String()), command})
}
