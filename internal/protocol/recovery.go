package protocol

import "github.com/parsec-go/parsec/internal/parsec"

// Shared recovery (see certif/recovery.go). A user records a setup (its certificate, one
// share certificate per recipient, the recovery device encrypted with a key that the
// shares rebuild, and the reveal token that the shares rebuild too); recipients fetch their
// own share certificate; an Administrator or a recipient invites the user back
// (SHAMIR_RECOVERY invitation); the user, once enough recipients greeted it, proves it
// rebuilt the secret by giving the reveal token, and gets the encrypted recovery device.
const (
	CmdRecoverySetup       = "shamir_recovery_setup"
	CmdRecoveryDelete      = "shamir_recovery_delete"
	CmdRecoveryShare       = "shamir_recovery_share"
	CmdInviteNewRecovery   = "invite_new_shamir_recovery"
	CmdRecoveryReveal      = "invite_shamir_recovery_reveal"
	InvitationTypeRecovery = "SHAMIR_RECOVERY"
)

// Shared-recovery statuses.
const (
	StatusRecoveryAlreadyExists Status = "shamir_recovery_already_exists"
	StatusRecoveryNotFound      Status = "shamir_recovery_not_found"
	StatusBadRevealToken        Status = "bad_reveal_token"
	StatusBadInvitationType     Status = "bad_invitation_type"
)

// RecoverySetupReq records a setup. Shares holds one share certificate per recipient.
type RecoverySetupReq struct {
	Setup        []byte             `cbor:"shamir_recovery_brief_certificate"`
	Shares       [][]byte           `cbor:"shamir_recovery_share_certificates"`
	CipheredData []byte             `cbor:"ciphered_data"`
	RevealToken  parsec.AccessToken `cbor:"reveal_token"`
}

// RecoveryDeleteReq deletes the caller's setup in force.
type RecoveryDeleteReq struct {
	Deletion []byte `cbor:"shamir_recovery_deletion_certificate"`
}

// RecoveryShareReq asks for the caller's share certificate of a user's setup in force.
type RecoveryShareReq struct {
	User parsec.UserID `cbor:"user_id"`
}

type RecoveryShareRep struct {
	Certificate []byte `cbor:"certificate"`
}

// InviteNewRecoveryReq invites a user who lost their devices to be recovered by the
// recipients of their setup (Administrators and those recipients may ask).
type InviteNewRecoveryReq struct {
	ClaimerUserID parsec.UserID `cbor:"claimer_user_id"`
	SendEmail     bool          `cbor:"send_email"`
}

// RecoveryRevealReq gives the reveal token rebuilt from the shares.
type RecoveryRevealReq struct {
	RevealToken parsec.AccessToken `cbor:"reveal_token"`
}

type RecoveryRevealRep struct {
	CipheredData []byte `cbor:"ciphered_data"`
}

// RecoveryInfo is what a SHAMIR_RECOVERY invitation's claimer learns of the setup: the
// recipients it can ask, how many shares each holds, and how many are needed. The claimer
// has no certificate to check it against; it only guides the person (the shares themselves
// come over the verified channel and are checked by rebuilding the secret).
type RecoveryInfo struct {
	SetupTimestamp parsec.DateTime     `cbor:"setup_timestamp"`
	Threshold      int                 `cbor:"threshold"`
	Recipients     []RecoveryRecipient `cbor:"recipients"`
}

// RecoveryRecipient is one recipient of a setup, as the claimer sees it.
type RecoveryRecipient struct {
	UserRef
	Shares  int  `cbor:"shares"`
	Revoked bool `cbor:"revoked"`
}
