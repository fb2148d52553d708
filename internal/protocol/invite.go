package protocol

import "github.com/parsec-go/parsec/internal/parsec"

// Invitation commands. The authenticated family creates, lists, cancels and greets; the
// invited family (Authorization: Bearer <token hex>) is the claimer's side.
const (
	CmdInviteNewUser         = "invite_new_user"
	CmdInviteNewDevice       = "invite_new_device"
	CmdInviteList            = "invite_list"
	CmdInviteCancel          = "invite_cancel"
	CmdInviteComplete        = "invite_complete"
	CmdGreeterStartAttempt   = "invite_greeter_start_greeting_attempt"
	CmdGreeterCancelAttempt  = "invite_greeter_cancel_greeting_attempt"
	CmdGreeterStep           = "invite_greeter_step"
	CmdUserCreate            = "user_create"
	CmdDeviceCreate          = "device_create"
	CmdInviteInfo            = "invite_info"
	CmdClaimerStartAttempt   = "invite_claimer_start_greeting_attempt"
	CmdClaimerCancelAttempt  = "invite_claimer_cancel_greeting_attempt"
	CmdClaimerStep           = "invite_claimer_step"
	InvitationTypeUser       = "USER"
	InvitationTypeDevice     = "DEVICE"
	InvitationStatusPending  = "PENDING"
	InvitationStatusFinished = "FINISHED"
	InvitationStatusCanceled = "CANCELLED"
)

// Invitation statuses specific to the exchange.
const (
	StatusNotReady                   Status = "not_ready"
	StatusStepTooAdvanced            Status = "step_too_advanced"
	StatusStepMismatch               Status = "step_mismatch"
	StatusGreetingAttemptNotFound    Status = "greeting_attempt_not_found"
	StatusGreetingAttemptNotJoined   Status = "greeting_attempt_not_joined"
	StatusGreetingAttemptCancelled   Status = "greeting_attempt_cancelled"
	StatusGreetingAttemptAlreadyDone Status = "greeting_attempt_already_cancelled"
	StatusInvitationAlreadyCancelled Status = "invitation_already_cancelled"
	StatusInvitationAlreadyCompleted Status = "invitation_already_completed"
	StatusGreeterNotFound            Status = "greeter_not_found"
	StatusGreeterNotAllowed          Status = "greeter_not_allowed"
	StatusGreeterRevoked             Status = "greeter_revoked"
)

// Reasons for cancelling a greeting attempt.
const (
	CancelManually                = "MANUALLY_CANCELLED"
	CancelInvalidNonceHash        = "INVALID_NONCE_HASH"
	CancelInvalidSASCode          = "INVALID_SAS_CODE"
	CancelUndecipherablePayload   = "UNDECIPHERABLE_PAYLOAD"
	CancelUndeserializablePayload = "UNDESERIALIZABLE_PAYLOAD"
	CancelInconsistentPayload     = "INCONSISTENT_PAYLOAD"
	CancelAutomatically           = "AUTOMATICALLY_CANCELLED"
)

// ValidCancelReason reports whether r is one of the reasons above.
func ValidCancelReason(r string) bool {
	switch r {
	case CancelManually, CancelInvalidNonceHash, CancelInvalidSASCode, CancelUndecipherablePayload,
		CancelUndeserializablePayload, CancelInconsistentPayload, CancelAutomatically:
		return true
	}
	return false
}

// Email statuses in the reply of an invitation creation.
const (
	EmailNotRequested      = ""
	EmailSent              = "SUCCESS"
	EmailServerUnavailable = "SERVER_UNAVAILABLE"
	EmailRecipientRefused  = "RECIPIENT_REFUSED"
)

// InviteNewUserReq invites a person by email (Administrators only). Inviting the same email
// again returns the same pending invitation.
type InviteNewUserReq struct {
	ClaimerEmail string `cbor:"claimer_email"`
	SendEmail    bool   `cbor:"send_email"`
}

// InviteNewDeviceReq invites a new device for the calling user.
type InviteNewDeviceReq struct {
	SendEmail bool `cbor:"send_email"`
}

// InviteNewRep gives the invitation's token and what became of the email.
type InviteNewRep struct {
	Token     parsec.AccessToken `cbor:"token"`
	EmailSent string             `cbor:"email_sent"`
}

type InviteListReq struct{}

// InvitationInfo is an invitation as invite_list shows it.
type InvitationInfo struct {
	Token         parsec.AccessToken `cbor:"token"`
	Type          string             `cbor:"type"`
	CreatedOn     parsec.DateTime    `cbor:"created_on"`
	CreatedBy     parsec.UserID      `cbor:"created_by"`
	Status        string             `cbor:"status"`
	ClaimerEmail  string             `cbor:"claimer_email,omitempty"`
	ClaimerUserID *parsec.UserID     `cbor:"claimer_user_id,omitempty"`
}

type InviteListRep struct {
	Invitations []InvitationInfo `cbor:"invitations"`
}

type InviteTokenReq struct {
	Token parsec.AccessToken `cbor:"token"`
}

type GreeterStartAttemptReq struct {
	Token parsec.AccessToken `cbor:"token"`
}

type ClaimerStartAttemptReq struct {
	Greeter parsec.UserID `cbor:"greeter"`
}

type StartAttemptRep struct {
	GreetingAttempt parsec.GreetingAttemptID `cbor:"greeting_attempt"`
}

type CancelAttemptReq struct {
	GreetingAttempt parsec.GreetingAttemptID `cbor:"greeting_attempt"`
	Reason          string                   `cbor:"reason"`
}

// StepReq submits this side's payload for a step (0 to 8) and asks for the other side's.
type StepReq struct {
	GreetingAttempt parsec.GreetingAttemptID `cbor:"greeting_attempt"`
	Step            int                      `cbor:"step"`
	Payload         []byte                   `cbor:"payload"`
}

type StepRep struct {
	Payload []byte `cbor:"payload"`
}

// MaxStep is the last step of the exchange; MaxStepPayload bounds one step's payload.
const (
	MaxStep        = 8
	MaxStepPayload = 64 << 10
)

// AttemptCancelled is the detail of a greeting_attempt_cancelled reply, also carried by the
// greeting_attempt_cancelled event.
type AttemptCancelled struct {
	Origin    string          `cbor:"origin"` // GREETER or CLAIMER
	Timestamp parsec.DateTime `cbor:"timestamp"`
	Reason    string          `cbor:"reason"`
}

type InviteInfoReq struct{}

// UserRef names a user with what the viewer may see of them.
type UserRef struct {
	UserID      parsec.UserID      `cbor:"user_id"`
	HumanHandle parsec.HumanHandle `cbor:"human_handle"`
}

// Greeter is someone who may greet the claimer.
type Greeter struct {
	UserRef
	LastAttemptJoinedOn parsec.DateTime `cbor:"last_greeting_attempt_joined_on,omitempty"`
}

// InviteInfoRep tells the claimer about its invitation.
type InviteInfoRep struct {
	Type               string              `cbor:"type"`
	ClaimerEmail       string              `cbor:"claimer_email,omitempty"`        // USER
	ClaimerUserID      *parsec.UserID      `cbor:"claimer_user_id,omitempty"`      // DEVICE
	ClaimerHumanHandle *parsec.HumanHandle `cbor:"claimer_human_handle,omitempty"` // DEVICE, SHAMIR_RECOVERY
	Recovery           *RecoveryInfo       `cbor:"recovery,omitempty"`             // SHAMIR_RECOVERY
	CreatedBy          UserRef             `cbor:"created_by"`
	Greeters           []Greeter           `cbor:"greeters"`
}

// UserCreateReq creates a user and its first device (Administrators, after greeting).
type UserCreateReq struct {
	UserCertificate           []byte `cbor:"user_certificate"`
	DeviceCertificate         []byte `cbor:"device_certificate"`
	RedactedUserCertificate   []byte `cbor:"redacted_user_certificate"`
	RedactedDeviceCertificate []byte `cbor:"redacted_device_certificate"`
}

// DeviceCreateReq creates a new device for the calling user.
type DeviceCreateReq struct {
	DeviceCertificate         []byte `cbor:"device_certificate"`
	RedactedDeviceCertificate []byte `cbor:"redacted_device_certificate"`
}

// Invitation and greeting events.
const (
	EventInvitation               = "invitation"                 // EventInvitationData, to possible greeters
	EventGreetingAttemptReady     = "greeting_attempt_ready"     // EventGreetingAttemptData, to the greeter
	EventGreetingAttemptJoined    = "greeting_attempt_joined"    // EventGreetingAttemptData, to the greeter
	EventGreetingAttemptCancelled = "greeting_attempt_cancelled" // EventGreetingAttemptData, to the greeter
)

type EventInvitationData struct {
	Token  parsec.AccessToken `cbor:"token"`
	Status string             `cbor:"status"`
}

type EventGreetingAttemptData struct {
	Token           parsec.AccessToken       `cbor:"token"`
	GreetingAttempt parsec.GreetingAttemptID `cbor:"greeting_attempt"`
}
