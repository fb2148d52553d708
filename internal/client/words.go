package client

import (
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// The words of the protocol that interfaces need, given here so that the CLI, the GUI and
// the mount never import internal/protocol: links, invitation types, email outcomes. The
// server's refusals reach them as error kinds (parsec.KindOf), never as statuses.

// Link is a Parsec link: an organization bootstrap or an invitation to claim.
type Link = protocol.Link

// ParseLink reads a link written parsec3://… or http(s)://…/redirect/….
func ParseLink(s string) (Link, error) { return protocol.ParseLink(s) }

// ParseBootstrapLink reads a link that must be an organization's bootstrap link.
func ParseBootstrapLink(s string) (Link, error) {
	link, err := protocol.ParseLink(s)
	if err == nil && link.Action != protocol.ActionBootstrapOrganization {
		return Link{}, parsec.Errorf(parsec.Invalid, "%q is not a bootstrap URL (it is a %s link)", s, link.Action)
	}
	return link, err
}

// Invitation types, as Invitation.Type and Claim.Info().Type give them.
const (
	InvitationUser     = protocol.InvitationTypeUser
	InvitationDevice   = protocol.InvitationTypeDevice
	InvitationRecovery = protocol.InvitationTypeRecovery
)

// What became of an invitation email (Invitation.EmailSent); any other value: the server
// could not send it.
const (
	EmailNotRequested     = protocol.EmailNotRequested
	EmailSent             = protocol.EmailSent
	EmailRecipientRefused = protocol.EmailRecipientRefused
)

// Invitation statuses, as Invitations gives them.
const (
	InvitationPending   = protocol.InvitationStatusPending
	InvitationFinished  = protocol.InvitationStatusFinished
	InvitationCancelled = protocol.InvitationStatusCanceled
)

// What a link is for (Link.Action).
const (
	ActionBootstrap   = protocol.ActionBootstrapOrganization
	ActionClaimUser   = protocol.ActionClaimUser
	ActionClaimDevice = protocol.ActionClaimDevice
	// ActionClaimRecovery is a shared-recovery invitation: the claimer is recovered by the
	// recipients of their setup.
	ActionClaimRecovery = protocol.ActionClaimRecovery
)
