package protocol

import "github.com/parsec-go/parsec/internal/parsec"

// Reply statuses. Clients must tolerate statuses they do not know (kind Other).
const (
	StatusOK = "ok"

	StatusInvalidCertificate       = "invalid_certificate"
	StatusTimestampOutOfBallpark   = "timestamp_out_of_ballpark"
	StatusRequireGreaterTimestamp  = "require_greater_timestamp"
	StatusAuthorNotAllowed         = "author_not_allowed"
	StatusInvalidBootstrapToken    = "invalid_bootstrap_token"
	StatusAlreadyBootstrapped      = "organization_already_bootstrapped"
	StatusUserAlreadyExists        = "user_already_exists"
	StatusDeviceAlreadyExists      = "device_already_exists"
	StatusHumanHandleAlreadyTaken  = "human_handle_already_taken"
	StatusActiveUsersLimitReached  = "active_users_limit_reached"
	StatusUserNotFound             = "user_not_found"
	StatusUserRevoked              = "user_revoked"
	StatusUserAlreadyRevoked       = "user_already_revoked"
	StatusUserNoChanges            = "user_no_changes"
	StatusBadRequest               = "bad_request"
	StatusInternal                 = "internal_error"
	StatusInvitationNotFound       = "invitation_not_found"
	StatusInvitationCompleted      = "invitation_completed"
	StatusInvitationCancelled      = "invitation_cancelled"
	StatusClaimerEmailAlreadyTaken = "claimer_email_already_enrolled"
)

// StatusKind classifies a status.
func StatusKind(status string) parsec.Kind {
	switch status {
	case StatusOK:
		return parsec.Other
	case StatusInvalidCertificate, StatusBadRequest:
		return parsec.Invalid
	case StatusTimestampOutOfBallpark:
		return parsec.Skew
	case StatusRequireGreaterTimestamp:
		return parsec.Conflict
	case StatusAuthorNotAllowed, StatusInvalidBootstrapToken, StatusActiveUsersLimitReached:
		return parsec.Permission
	case StatusAlreadyBootstrapped, StatusUserAlreadyExists, StatusDeviceAlreadyExists,
		StatusHumanHandleAlreadyTaken, StatusUserAlreadyRevoked, StatusUserNoChanges,
		StatusClaimerEmailAlreadyTaken, StatusInvitationCompleted:
		return parsec.Exists
	case StatusUserNotFound, StatusInvitationNotFound:
		return parsec.NotFound
	case StatusUserRevoked:
		return parsec.Revoked
	case StatusInvitationCancelled, StatusInvitationAlreadyCancelled:
		return parsec.Gone
	case StatusInvitationAlreadyCompleted:
		return parsec.Exists
	case StatusStepMismatch, StatusStepTooAdvanced:
		return parsec.Conflict
	case StatusGreetingAttemptCancelled, StatusGreetingAttemptAlreadyDone:
		return parsec.Cancelled
	case StatusGreetingAttemptNotFound, StatusGreeterNotFound:
		return parsec.NotFound
	case StatusGreetingAttemptNotJoined:
		return parsec.Invalid
	case StatusGreeterNotAllowed:
		return parsec.Permission
	case StatusGreeterRevoked, StatusRecipientRevoked:
		return parsec.Revoked
	case StatusRealmNotFound, StatusRecipientNotFound, StatusVlobNotFound, StatusBlockNotFound:
		return parsec.NotFound
	case StatusRealmAlreadyExists, StatusRoleAlreadyGranted, StatusRecipientAlreadyUnshared,
		StatusActiveOwnerAlreadyExists, StatusInitialNameAlreadyExists, StatusVlobAlreadyExists,
		StatusBlockAlreadyExists:
		return parsec.Exists
	case StatusRealmDeleted:
		return parsec.Gone
	case StatusRealmArchived, StatusRoleIncompatibleWithOutsider, StatusAuthorIsOutsider,
		StatusAccessNotAvailableForAuthor:
		return parsec.Permission
	case StatusBadKeyIndex, StatusParticipantMismatch, StatusBadVlobVersion:
		return parsec.Conflict
	case StatusArchivingPeriodTooShort, StatusTooManyElements:
		return parsec.Invalid
	case StatusStoreUnavailable:
		return parsec.Unavailable
	}
	return parsec.Other
}
