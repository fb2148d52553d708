// Package smtp is the mail.Sender of a server that sends its emails through an SMTP server:
// implicit TLS, STARTTLS or plain, AUTH PLAIN, one connection per message.
//
// It never logs anything, and never lets the password appear in an error message, even when
// the SMTP server echoes it. It never sends credentials over an unencrypted connection, except
// to localhost.
package smtp
