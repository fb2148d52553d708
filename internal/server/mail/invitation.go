package mail

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
)

// An Invitation is what an invitation email says.
type Invitation struct {
	Organization string
	// GreeterName and GreeterEmail identify the user who created the invitation.
	GreeterName, GreeterEmail string
	// ClaimerEmail is the address of the invited person (user invitations only).
	ClaimerEmail string
	// Link is the http(s) redirect form of the invitation URL.
	Link string
	// Device is true for a device invitation: the greeter invites a new device of his own.
	Device bool
}

//go:embed templates
var templateFS embed.FS

var (
	textTemplates = texttemplate.Must(texttemplate.New("").
			Funcs(texttemplate.FuncMap{"shellQuote": shellQuote}).
			ParseFS(templateFS, "templates/*.txt.tmpl"))
	htmlTemplates = htmltemplate.Must(htmltemplate.New("").
			Funcs(htmltemplate.FuncMap{"shellQuote": shellQuote}).
			ParseFS(templateFS, "templates/*.html.tmpl"))
)

// InvitationMessage returns the email for inv, From left empty for the sender to fill. A user
// invitation goes to the claimer with Reply-To set to the greeter; a device invitation goes to
// the greeter himself. The HTML part escapes every value. Values are not validated here:
// Send refuses a message whose headers would hold a line break.
func InvitationMessage(inv Invitation) Message {
	greeter := inv.GreeterName
	if greeter == "" {
		greeter = inv.GreeterEmail
	}
	data := struct {
		Invitation
		Greeter string
	}{inv, greeter}

	var m Message
	name := "user_invitation"
	if inv.Device {
		name = "device_invitation"
		m.Subject = "[Parsec] New device invitation to " + inv.Organization
		m.To = formatAddressOf(inv.GreeterName, inv.GreeterEmail)
	} else {
		m.Subject = "[Parsec] " + greeter + " invited you to " + inv.Organization
		m.To = inv.ClaimerEmail
		m.ReplyTo = formatAddressOf(inv.GreeterName, inv.GreeterEmail)
	}
	var text, html bytes.Buffer
	// The templates are fixed and the data is plain strings: executing cannot fail.
	if err := textTemplates.ExecuteTemplate(&text, name+".txt.tmpl", data); err != nil {
		panic(err)
	}
	if err := htmlTemplates.ExecuteTemplate(&html, name+".html.tmpl", data); err != nil {
		panic(err)
	}
	m.Text = text.String()
	m.HTML = html.String()
	return m
}

// formatAddressOf renders "name" <email>, readable in the Message; Bytes encodes it.
func formatAddressOf(name, email string) string {
	switch {
	case email == "":
		return ""
	case name == "":
		return email
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `" <` + email + ">"
}

// shellQuote quotes s for a POSIX shell, so that the command shown in the email can be pasted.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
