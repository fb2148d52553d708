// Package mail renders and sends the emails of the Parsec server: today the invitation emails
// sent when an invitation is created with send_email.
//
// A [Message] is rendered as an RFC 5322 message with a text and an HTML part. A [Sender]
// delivers it: package smtp through an SMTP server (implicit TLS, STARTTLS or plain, AUTH
// PLAIN), [NewDir] into a directory of .eml files for development. Send errors are classified
// as [ErrRecipientRefused] or [ErrUnavailable] (see [NewSendError]), which is what the server
// reports to the client; the invitation itself never depends on the email being sent. This
// package imports no network client.
//
// This package never logs anything: neither message bodies (they carry invitation links,
// which are secrets until the invitation is claimed) nor SMTP passwords, which also never
// appear in an error message. Header values are checked for line breaks so that no name or
// address can inject a header.
package mail
