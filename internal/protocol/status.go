package protocol

import (
	"errors"
	"slices"

	"github.com/parsec-go/parsec/internal/parsec"
)

// Status is a reply's status: "ok", or why the server refused a request. The vocabulary is
// the constants below (and those beside each command family); a client must tolerate
// statuses it does not know (kind Other).
type Status string

// Reply statuses shared by every command family.
const (
	StatusOK Status = "ok"

	StatusInvalidCertificate       Status = "invalid_certificate"
	StatusTimestampOutOfBallpark   Status = "timestamp_out_of_ballpark"
	StatusRequireGreaterTimestamp  Status = "require_greater_timestamp"
	StatusAuthorNotAllowed         Status = "author_not_allowed"
	StatusInvalidBootstrapToken    Status = "invalid_bootstrap_token"
	StatusAlreadyBootstrapped      Status = "organization_already_bootstrapped"
	StatusUserAlreadyExists        Status = "user_already_exists"
	StatusDeviceAlreadyExists      Status = "device_already_exists"
	StatusHumanHandleAlreadyTaken  Status = "human_handle_already_taken"
	StatusActiveUsersLimitReached  Status = "active_users_limit_reached"
	StatusUserNotFound             Status = "user_not_found"
	StatusUserRevoked              Status = "user_revoked"
	StatusUserAlreadyRevoked       Status = "user_already_revoked"
	StatusUserNoChanges            Status = "user_no_changes"
	StatusBadRequest               Status = "bad_request"
	StatusInternal                 Status = "internal_error"
	StatusInvitationNotFound       Status = "invitation_not_found"
	StatusInvitationCompleted      Status = "invitation_completed"
	StatusInvitationCancelled      Status = "invitation_cancelled"
	StatusClaimerEmailAlreadyTaken Status = "claimer_email_already_enrolled"
)

// IsStatus reports whether err is (or wraps) a refusal by the server with one of the
// statuses given.
func IsStatus(err error, statuses ...Status) bool {
	se, ok := StatusOf(err)
	return ok && slices.Contains(statuses, se.Status)
}

// StatusOf returns the server's refusal in err's chain, for its detail.
func StatusOf(err error) (*StatusError, bool) {
	var se *StatusError
	ok := errors.As(err, &se)
	return se, ok
}

// StatusKind classifies a status.
func StatusKind(status Status) parsec.Kind {
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
		StatusClaimerEmailAlreadyTaken:
		return parsec.Exists
	case StatusUserNotFound, StatusInvitationNotFound:
		return parsec.NotFound
	case StatusUserRevoked:
		return parsec.Revoked
	case StatusInvitationCancelled, StatusInvitationAlreadyCancelled,
		StatusInvitationCompleted, StatusInvitationAlreadyCompleted:
		return parsec.Gone
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
	case StatusRecoveryAlreadyExists:
		return parsec.Exists
	case StatusRecoveryNotFound:
		return parsec.NotFound
	case StatusBadRevealToken, StatusBadInvitationType:
		return parsec.Permission
	}
	return parsec.Other
}
